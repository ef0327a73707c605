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
    ...socketLookupHelpers(),
  ];
}

/**
 * socketLookupHelpers: the socket lookups and what their results may be given to. bpfbox has
 * no sockets (no socket table yet: the issue's `--sockets` file, later the host's own), so
 * bpf_sk_lookup_tcp (84), bpf_sk_lookup_udp (85) and bpf_skc_lookup_tcp (99) always miss and
 * return NULL, as the kernel's do for a tuple no socket listens on; __sk_buff.sk reads 0 too.
 * No socket pointer ever exists at run time, so the helpers that take one (bpf_sk_release 86,
 * bpf_sk_fullsock 95, bpf_tcp_sock 96, bpf_get_listener_sock 98, bpf_tcp_check_syncookie 100,
 * bpf_tcp_gen_syncookie 110, bpf_sk_assign 124, the bpf_skc_to_* casts 136-140, 178, 196, and
 * a BPF_MAP_TYPE_SK_STORAGE's bpf_sk_storage_get 107 and bpf_sk_storage_delete 108) are never
 * reached with one; given one they would have nothing to do, and return what the kernel returns
 * for no socket (NULL, or -EINVAL for the syncookies, bpf_sk_assign and bpf_sk_storage_delete).
 * The verifier (vm/verifier/sockets.ts) checks references as the kernel does all the same.
 */
function socketLookupHelpers(): Helper[] {
  const miss = () => 0n;
  const einval = () => BigInt.asUintN(64, -22n);
  return [
    { id: 84, name: 'bpf_sk_lookup_tcp', fn: miss },
    { id: 85, name: 'bpf_sk_lookup_udp', fn: miss },
    { id: 99, name: 'bpf_skc_lookup_tcp', fn: miss },
    { id: 86, name: 'bpf_sk_release', fn: () => 0n },
    { id: 95, name: 'bpf_sk_fullsock', fn: miss },
    { id: 96, name: 'bpf_tcp_sock', fn: miss },
    { id: 98, name: 'bpf_get_listener_sock', fn: miss },
    { id: 100, name: 'bpf_tcp_check_syncookie', fn: einval },
    { id: 110, name: 'bpf_tcp_gen_syncookie', fn: einval },
    // bpf_sk_assign: `if (!sk || flags != 0) return -EINVAL;` comes first
    { id: 124, name: 'bpf_sk_assign', fn: einval },
    // bpf_sk_storage_get: no (full) socket, NULL; bpf_sk_storage_delete: no socket, -EINVAL
    { id: 107, name: 'bpf_sk_storage_get', fn: miss },
    { id: 108, name: 'bpf_sk_storage_delete', fn: einval },
    ...(
      [
        [136, 'bpf_skc_to_tcp6_sock'],
        [137, 'bpf_skc_to_tcp_sock'],
        [138, 'bpf_skc_to_tcp_timewait_sock'],
        [139, 'bpf_skc_to_tcp_request_sock'],
        [140, 'bpf_skc_to_udp6_sock'],
        [178, 'bpf_skc_to_unix_sock'],
        [196, 'bpf_skc_to_mptcp_sock'],
      ] as const
    ).map(([id, name]) => ({ id, name, fn: miss })),
  ];
}
