import { userInfo } from 'node:os';

/** Who runs this process, as an execution records it (`by`) when none is given. */
export function whoAmI(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}
