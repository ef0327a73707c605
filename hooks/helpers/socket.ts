import type { Helper } from '../../vm/helpers.js';
import type { HookRuntime } from '../runtime.js';

/** The kernel's cookies come from a global counter; so do these (first cookie 1). */
let lastCookie = 0n;

/**
 * socketHelpers: what a socket filter may ask of the socket its packet belongs to.
 * bpf_get_socket_cookie (46): a nonzero number, the same for every call on one packet's
 * socket (test-run makes a socket per run; the kernel's values differ by nature).
 * bpf_get_socket_uid (47): the socket owner's uid; test-run's socket comes from
 * sock_init_data() without a struct socket, which makes it 0, and so does bpfbox.
 */
export function socketHelpers(rt: HookRuntime): Helper[] {
  return [
    {
      id: 46,
      name: 'bpf_get_socket_cookie',
      fn: () => {
        const c = rt.current;
        if (c.kind !== 'skb') return 0n;
        c.pkt.cookie ??= ++lastCookie;
        return c.pkt.cookie;
      },
    },
    { id: 47, name: 'bpf_get_socket_uid', fn: () => 0n },
  ];
}
