/** The release actions a panel calls (canary, promote, roll back), as the operator page wires them. */
export interface ReleaseActions {
  canary(model: string, version: string | undefined, percent: number, reason?: string): Promise<void>;
  promote(model: string, reason?: string): Promise<void>;
  rollback(model: string, version: string | undefined, reason?: string): Promise<void>;
}
