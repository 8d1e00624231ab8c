/** Where a call came from, for the audit trail. */
export interface CallContext {
  ip?: string | null;
  requestId?: string | null;
}
