/**
 * The orchestrator's BullMQ queues (one per site, created on first use), sharing its connection.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../../common/index.ts';
import type { BullJob } from '../../schedule/index.ts';
import { bullOptions, stepJobOptions } from '../queues.ts';

export class QueueSet {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  get(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, ...bullOptions(this.prefix) });
      queue.on('error', (error) => this.log.warn({ err: error, queue: name }, 'queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Add jobs, one addBulk per queue. A job whose id exists is left as it is (BullMQ's rule). */
  async add(jobs: readonly BullJob[]): Promise<void> {
    const byQueue = new Map<string, BullJob[]>();
    for (const job of jobs) {
      const list = byQueue.get(job.queue) ?? [];
      list.push(job);
      byQueue.set(job.queue, list);
    }
    await Promise.all(
      [...byQueue].map(([name, list]) =>
        this.get(name).addBulk(
          list.map((job) => ({
            name: job.name,
            data: job.data,
            opts: job.delayMs
              ? { ...stepJobOptions(job.jobId), delay: job.delayMs }
              : stepJobOptions(job.jobId),
          })),
        ),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
