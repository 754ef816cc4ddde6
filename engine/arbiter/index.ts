/** The third-site arbiter (`drctl arbiter`, issue 13). */
export { type Arbiter, type ArbiterOptions, arbiterTakes, startArbiter } from './arbiter.ts';
