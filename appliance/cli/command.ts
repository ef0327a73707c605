/** Output collects what a command prints; `json`, `pretty` and `pinned` are -j, -p and -f. */
export interface Output {
  readonly json: boolean;
  readonly pretty: boolean;
  readonly pinned?: boolean;
  out(text: string): void;
  err(text: string): void;
}
