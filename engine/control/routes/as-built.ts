/**
 * The engine builds these answers (records, reports, receipts: typed by its own interfaces), and
 * they go out as the engine built them, field order and all, so `drctl --json` prints the same
 * bytes through the API as on Redis; the schemas document them. Also spares encoding a 10,000-VM
 * view through zod on every status poll.
 */
export const asBuilt = {
  serializerCompiler: () => (data: unknown) => JSON.stringify(data),
};
