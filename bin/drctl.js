#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx's loader, so `npx drctl` works from a clean
// clone without a build step and signals (SIGTERM, SIGKILL in fault tests) reach the real process.
import { register } from 'tsx/esm/api';

register();
await import('../engine/cli/main.ts');
