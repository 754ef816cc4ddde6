import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';

/** A Lua script run by EVALSHA, loaded on first NOSCRIPT (after a Redis restart too). */
export class LuaScript {
  readonly sha: string;
  constructor(
    readonly source: string,
    readonly numberOfKeys: number,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, this.numberOfKeys, ...args);
    } catch (error) {
      if (error instanceof Error && error.message.includes('NOSCRIPT')) {
        return await redis.eval(this.source, this.numberOfKeys, ...args);
      }
      throw error;
    }
  }

  /** On a pipeline/MULTI: plain EVAL (a pipeline cannot recover from NOSCRIPT). */
  queue(pipeline: ChainableCommander, args: readonly (string | number)[]): void {
    pipeline.eval(this.source, this.numberOfKeys, ...args);
  }
}
