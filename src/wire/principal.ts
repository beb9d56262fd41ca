/**
 * Who a request speaks for, as its token says: the app's server side (a server token) or one user
 * (a user token; with `call_cids` a call token, whose `role` is the role in those calls).
 */
export type Principal = { kind: 'server' } | UserPrincipal;

export interface UserPrincipal {
  kind: 'user';
  userId: string;
  role?: string;
  callCids?: string[];
}
