/**
 * The statuses of a pair's session row, written by the control plane (wake, task events, reap) and read
 * by the API, the relay, the console and the CLI. Code names a status through this map, so a typo cannot
 * compile. No Node imports: the console's browser bundle reads it too.
 */
export const SESSION_STATUS = {
  STARTING: 'STARTING',
  RUNNING: 'RUNNING',
  STOPPING: 'STOPPING',
  STOPPED: 'STOPPED',
  FAILED: 'FAILED',
} as const;

export type SessionStatus = (typeof SESSION_STATUS)[keyof typeof SESSION_STATUS];
