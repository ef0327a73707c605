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
 * bpf_get_netns_cookie (122): the cookie of the namespace the packet's socket lives in, or of
 * init_net when given NULL; bpfbox has one namespace, whose cookie the runtime is given
 * (RuntimeOptions.netnsCookie; default 1, a nonzero number: the kernel's come from a counter,
 * 3 for init_net on the 6.18 kernel this was written on).
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
    { id: 122, name: 'bpf_get_netns_cookie', fn: () => rt.options.netnsCookie ?? 1n },
  ];
}
