/*
 * afpacket: bpfbox's live-capture module (Node-API, C11). AF_PACKET SOCK_RAW sockets with an
 * mmap'ed RX ring (TPACKET_V2 inline, TPACKET_V3 for a tap), PACKET_FANOUT_HASH groups,
 * PACKET_VNET_HDR, and batches: rx() copies ready ring frames into caller-given slots of the
 * shared WebAssembly.Memory (a Uint8Array over it) and writes a 32-byte descriptor per frame;
 * send() transmits a list of frames from that memory with sendmmsg(2). No JavaScript runs per
 * packet. docs/live-native.md says why, and appliance/live/native.ts holds the JS contract.
 *
 * All state lives per napi_env (napi_set_instance_data), and a cleanup hook closes the sockets,
 * so each worker_thread that loads the module owns its own handles.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5 /* Linux 4.18; older UAPI headers lack it */
#endif

/* ---- the descriptor (vm/jit/xdpBatchDriver.ts DescOff) and the slot rule ---- */
enum { D_HARD_START = 0, D_ROOM = 4, D_LEN = 8, D_WIRE_LEN = 12, D_TS_SEC = 16, D_TS_NSEC = 20, D_SRC = 24, D_RET = 28, D_BYTES = 32 };
/* XDP_PACKET_HEADROOM: a frame's bytes start this far into its slot. */
#define XDP_PACKET_HEADROOM 256
/* Room after the frame: generic XDP's tailroom for skb_shared_info (320 on x86-64). */
#define SLOT_TAILROOM 320
#define SLOT_MIN 4096
#define VNET_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr)) /* 10 */
/* The largest frame a packet socket is given: a 64 KiB GSO frame and its Ethernet header (and a tag). */
#define MAX_FRAME (65536u + 64u)
#define SEND_CHUNK 64
#define SEND_RETRIES 8
#define SEND_RETRY_MS 10
#define V3_BLOCK_TOV_MS 10
#define MAX_POLL 32

static inline uint32_t round64(uint32_t v) { return (v + 63u) & ~63u; }
/* slot_room: the bytes a frame of len bytes takes in the memory (the contract's slot rule). */
static inline uint32_t slot_room(uint32_t len) {
  uint32_t r = round64(XDP_PACKET_HEADROOM + len + SLOT_TAILROOM);
  return r < SLOT_MIN ? SLOT_MIN : r;
}

/* ---- errors: a JS Error with .code (errno name) and .errno ---- */
static const struct {
  int no;
  const char *name;
} ERRNO_NAMES[] = {
    {EPERM, "EPERM"},         {ENOENT, "ENOENT"},         {EINTR, "EINTR"},     {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"},         {EBADF, "EBADF"},           {EAGAIN, "EAGAIN"},   {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},       {EFAULT, "EFAULT"},         {EBUSY, "EBUSY"},     {EEXIST, "EEXIST"},
    {ENODEV, "ENODEV"},       {EINVAL, "EINVAL"},         {ENFILE, "ENFILE"},   {EMFILE, "EMFILE"},
    {ENOSPC, "ENOSPC"},       {ERANGE, "ERANGE"},         {ENOSYS, "ENOSYS"},   {EMSGSIZE, "EMSGSIZE"},
    {ENOPROTOOPT, "ENOPROTOOPT"}, {EPROTONOSUPPORT, "EPROTONOSUPPORT"}, {EOPNOTSUPP, "EOPNOTSUPP"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"}, {EADDRINUSE, "EADDRINUSE"}, {ENETDOWN, "ENETDOWN"}, {ENOBUFS, "ENOBUFS"},
    {EALREADY, "EALREADY"},   {ENOTCONN, "ENOTCONN"},
};

static const char *errno_name(int no) {
  for (size_t i = 0; i < sizeof ERRNO_NAMES / sizeof ERRNO_NAMES[0]; i++)
    if (ERRNO_NAMES[i].no == no) return ERRNO_NAMES[i].name;
  return NULL;
}

/* throw_errno throws `<what> <subject>: <strerror> (<ENAME>)` with .code and .errno. */
static void throw_errno(napi_env env, const char *what, const char *subject, int no) {
  char ename[16];
  const char *name = errno_name(no);
  if (!name) {
    snprintf(ename, sizeof ename, "E%d", no);
    name = ename;
  }
  char text[128];
  snprintf(text, sizeof text, "%s", strerror(no));
  if (text[0] >= 'A' && text[0] <= 'Z') text[0] = (char)(text[0] - 'A' + 'a');
  char msg[320];
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", what, subject, text, name);
  napi_value code, message, error, num;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, no, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
}

/* ---- handles ---- */
typedef struct {
  double rx_frames, rx_bytes, kernel_drops, kernel_packets, truncated, vlan_restored, csum_completed, segmented, oversized;
  double tx_frames, tx_bytes, tx_errors, tx_retries;
} stats_t;

typedef struct {
  int fd;
  int ifindex;
  char ifname[IF_NAMESIZE];
  int version; /* TPACKET_V2 or TPACKET_V3 */
  bool passthrough;
  bool promisc;
  uint8_t *ring;
  size_t ring_len;
  uint32_t block_size, block_nr, frame_size, frame_nr, frames_per_block;
  uint32_t cur;         /* V2: the next frame; V3: the current block */
  uint32_t v3_left;     /* V3: frames of the current block not yet taken (0: block not opened) */
  uint8_t *v3_next;     /* V3: the next frame in the current block */
  uint8_t *scratch;     /* a GSO frame with its tag put back, to segment from */
  uint32_t scratch_len;
  uint8_t *big;         /* a frame too big for a ring frame (TP_STATUS_COPY), read from the socket's queue: virtio_net_hdr + frame */
  uint32_t big_len;
  uint32_t pending;     /* bytes of that frame in `big` still waiting for room in a batch (0: none) */
  stats_t st;
} handle_t;

typedef struct {
  handle_t **h; /* by id; NULL: closed or never opened */
  uint32_t n;   /* ids handed out so far (id 0 is never used) */
} instance_t;

static void handle_free(handle_t *h) {
  if (h->ring) munmap(h->ring, h->ring_len);
  if (h->fd >= 0) close(h->fd); /* closing drops the promiscuous membership and leaves the fanout group */
  free(h->scratch);
  free(h->big);
  free(h);
}

static void instance_cleanup(void *arg) {
  instance_t *in = arg;
  for (uint32_t i = 0; i < in->n; i++)
    if (in->h[i]) {
      handle_free(in->h[i]);
      in->h[i] = NULL;
    }
}

static void instance_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  instance_cleanup(data);
  free(((instance_t *)data)->h);
  free(data);
}

static instance_t *instance(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return p;
}

/* ---- argument helpers (each returns false with a JS exception pending) ---- */
static bool arg_u32(napi_env env, napi_value v, const char *name, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: expected an integer in [0, 2^32), got another value", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

static bool arg_mem(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  napi_typedarray_type t;
  void *p;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is || napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok ||
      t != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mem: expected a Uint8Array over the shared memory");
    return false;
  }
  *data = p;
  return true;
}

static handle_t *arg_handle(napi_env env, napi_value v, const char *what) {
  uint32_t id;
  if (!arg_u32(env, v, "handle", &id)) return NULL;
  instance_t *in = instance(env);
  if (id == 0 || id >= in->n || !in->h[id]) {
    char subject[32];
    snprintf(subject, sizeof subject, "handle %u", id);
    throw_errno(env, what, subject, EBADF);
    return NULL;
  }
  return in->h[id];
}

static bool range_error(napi_env env, const char *what, uint64_t at, uint64_t len, size_t memlen) {
  char msg[192];
  snprintf(msg, sizeof msg, "%s: %llu bytes at %llu are past the memory's %zu bytes", what, (unsigned long long)len,
           (unsigned long long)at, memlen);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return false;
}

static napi_value get_prop(napi_env env, napi_value o, const char *name) {
  napi_value v = NULL;
  napi_get_named_property(env, o, name, &v);
  return v;
}

static bool opt_u32(napi_env env, napi_value o, const char *name, uint32_t dflt, uint32_t *out) {
  bool has = false;
  napi_has_named_property(env, o, name, &has);
  napi_value v = has ? get_prop(env, o, name) : NULL;
  napi_valuetype t = napi_undefined;
  if (v) napi_typeof(env, v, &t);
  if (t == napi_undefined) {
    *out = dflt;
    return true;
  }
  return arg_u32(env, v, name, out);
}

static bool opt_bool(napi_env env, napi_value o, const char *name) {
  bool b = false;
  napi_value v = get_prop(env, o, name);
  if (v) napi_get_value_bool(env, v, &b);
  return b;
}

/* ---- checksums (Internet checksum, RFC 1071): sums of 16-bit words in memory order ---- */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n) {
  while (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n) {
    uint8_t last[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, last, 2);
    sum += w;
  }
  return sum;
}

/* csum_fold: the complemented 16-bit fold, in memory order (store it as is). */
static uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline uint32_t rd32_host(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline void wr32_host(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* ---- one ring frame, whichever version ---- */
typedef struct {
  uint32_t status, len, snaplen, sec, nsec;
  uint16_t vlan_tci, vlan_tpid;
  const uint8_t *mac; /* the frame; with PACKET_VNET_HDR its virtio_net_hdr is the 10 bytes before */
} ring_frame_t;

#define TAKE_DONE 0 /* the frame was written or counted and skipped: hand it back */
#define TAKE_FULL 1 /* no room (descriptors or slots) for it in this call: leave it */

typedef struct {
  uint8_t *mem;
  size_t memlen;
  uint32_t desc, max, n; /* descriptors: where, how many at most, how many written */
  uint32_t cursor, end;  /* the next slot, the end of the area */
} batch_t;

/* batch_put: reserve the next slot for `len` bytes and fill its descriptor; returns the slot. */
static uint8_t *batch_put(batch_t *b, uint32_t len, uint32_t wire_len, const ring_frame_t *f) {
  uint32_t slot = b->cursor, room = slot_room(len);
  uint8_t *d = b->mem + b->desc + (size_t)b->n * D_BYTES;
  wr32_host(d + D_HARD_START, slot);
  wr32_host(d + D_ROOM, room);
  wr32_host(d + D_LEN, len);
  wr32_host(d + D_WIRE_LEN, wire_len);
  wr32_host(d + D_TS_SEC, f->sec);
  wr32_host(d + D_TS_NSEC, f->nsec);
  wr32_host(d + D_SRC, 0);
  wr32_host(d + D_RET, 0);
  b->cursor = slot + room; /* rooms are multiples of 64, so the cursor stays aligned */
  b->n++;
  return b->mem + slot;
}

/* copy_tagged: the frame's bytes with the stripped outer VLAN tag (if any) put back after the MACs. */
static uint32_t copy_tagged(uint8_t *dst, const ring_frame_t *f, bool tag) {
  if (!tag) {
    memcpy(dst, f->mac, f->snaplen);
    return f->snaplen;
  }
  uint32_t head = f->snaplen < 12 ? f->snaplen : 12;
  memcpy(dst, f->mac, head);
  wr16(dst + 12, (f->status & TP_STATUS_VLAN_TPID_VALID) && f->vlan_tpid ? f->vlan_tpid : ETH_P_8021Q);
  wr16(dst + 14, f->vlan_tci);
  memcpy(dst + 16, f->mac + head, f->snaplen - head);
  return f->snaplen + 4;
}

/* ---- GSO segmentation ('off' mode): what the peer's NIC would have put on the wire ---- */
typedef struct {
  uint32_t l3, l4, hdr; /* offsets of the IP header, the L4 header; the header bytes */
  bool v6, udp;
} layout_t;

/* gso_layout parses Ethernet (+ one 802.1Q/802.1ad tag), IPv4/IPv6 (no extension headers), TCP/UDP. */
static bool gso_layout(const uint8_t *p, uint32_t len, uint8_t gso_type, layout_t *l) {
  uint32_t o = 12;
  if (len < 14) return false;
  uint16_t proto = rd16(p + o);
  if (proto == ETH_P_8021Q || proto == ETH_P_8021AD) {
    o += 4;
    if (len < o + 2) return false;
    proto = rd16(p + o);
  }
  o += 2;
  l->l3 = o;
  uint8_t l4proto;
  if (proto == ETH_P_IP) {
    if (len < o + 20 || p[o] >> 4 != 4) return false;
    uint32_t ihl = (uint32_t)(p[o] & 15) * 4;
    if (ihl < 20 || len < o + ihl) return false;
    l4proto = p[o + 9];
    l->v6 = false;
    l->l4 = o + ihl;
  } else if (proto == ETH_P_IPV6) {
    if (len < o + 40 || p[o] >> 4 != 6) return false;
    l4proto = p[o + 6];
    l->v6 = true;
    l->l4 = o + 40;
  } else
    return false;
  if (gso_type == VIRTIO_NET_HDR_GSO_UDP_L4) {
    if (l4proto != IPPROTO_UDP) return false;
    l->udp = true;
    l->hdr = l->l4 + 8;
  } else {
    if (l4proto != IPPROTO_TCP || (gso_type == VIRTIO_NET_HDR_GSO_TCPV4) == l->v6) return false;
    if (len < l->l4 + 20) return false;
    l->udp = false;
    l->hdr = l->l4 + (uint32_t)(p[l->l4 + 12] >> 4) * 4;
  }
  return l->hdr <= len;
}

/* l4_csum: the full L4 checksum of a segment (pseudo-header included) into its field. */
static void l4_csum(uint8_t *p, const layout_t *l, uint32_t seg_len) {
  uint32_t l4len = seg_len - l->l4;
  uint8_t *field = p + l->l4 + (l->udp ? 6 : 16);
  memset(field, 0, 2);
  uint64_t sum = l->v6 ? csum_add(0, p + l->l3 + 8, 32) : csum_add(0, p + l->l3 + 12, 8);
  uint8_t ph[8] = {0};
  wr32(ph, l4len);
  ph[7] = l->udp ? IPPROTO_UDP : IPPROTO_TCP;
  sum = csum_add(sum, ph, 8);
  uint16_t c = csum_fold(csum_add(sum, p + l->l4, l4len));
  if (l->udp && c == 0) c = 0xffff;
  memcpy(field, &c, 2);
}

/* segment: split a GSO frame (src, len; its tag already in the data) into slots. */
static int segment(handle_t *h, batch_t *b, const ring_frame_t *f, const struct virtio_net_hdr *vh, const uint8_t *src, uint32_t len) {
  layout_t l;
  uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  uint32_t mss = vh->gso_size;
  bool known = type == VIRTIO_NET_HDR_GSO_TCPV4 || type == VIRTIO_NET_HDR_GSO_TCPV6 || type == VIRTIO_NET_HDR_GSO_UDP_L4;
  if (!known || mss == 0 || !gso_layout(src, len, type, &l)) {
    h->st.oversized++;
    return TAKE_DONE;
  }
  uint32_t payload = len - l.hdr, nseg = payload ? (payload + mss - 1) / mss : 1;
  uint64_t need = (uint64_t)(nseg - 1) * slot_room(l.hdr + mss) + slot_room(l.hdr + (payload - (nseg - 1) * mss));
  if (b->n + nseg > b->max || b->cursor + need > b->end) {
    if (b->n > 0) return TAKE_FULL;
    h->st.oversized++; /* it would not fit even in an empty area */
    return TAKE_DONE;
  }
  uint16_t id = l.v6 ? 0 : rd16(src + l.l3 + 4);
  uint32_t seq = l.udp ? 0 : rd32(src + l.l4 + 4);
  for (uint32_t k = 0; k < nseg; k++) {
    uint32_t seg_payload = k + 1 < nseg ? mss : payload - k * mss, seg_len = l.hdr + seg_payload;
    uint8_t *p = batch_put(b, seg_len, seg_len, f) + XDP_PACKET_HEADROOM;
    memset(p - XDP_PACKET_HEADROOM, 0, VNET_HDR_LEN);
    memcpy(p, src, l.hdr);
    memcpy(p + l.hdr, src + l.hdr + k * mss, seg_payload);
    if (l.v6) {
      wr16(p + l.l3 + 4, (uint16_t)(seg_len - l.l4));
    } else {
      wr16(p + l.l3 + 2, (uint16_t)(seg_len - l.l3));
      wr16(p + l.l3 + 4, (uint16_t)(id + k));
      memset(p + l.l3 + 10, 0, 2);
      uint16_t c = csum_fold(csum_add(0, p + l.l3, l.l4 - l.l3));
      memcpy(p + l.l3 + 10, &c, 2);
    }
    if (l.udp) {
      wr16(p + l.l4 + 4, (uint16_t)(seg_len - l.l4));
    } else {
      uint8_t *flags = p + l.l4 + 13;
      wr32(p + l.l4 + 4, seq + k * mss);
      if (k > 0) *flags &= (uint8_t)~0x80;           /* CWR: first segment only */
      if (k + 1 < nseg) *flags &= (uint8_t)~(0x01 | 0x08); /* FIN, PSH: last segment only */
    }
    l4_csum(p, &l, seg_len);
    h->st.rx_bytes += seg_len;
  }
  h->st.rx_frames += nseg;
  h->st.segmented += nseg;
  return TAKE_DONE;
}

static int take_frame(handle_t *h, batch_t *b, const ring_frame_t *f);

/*
 * take: one ring frame into the batch (or counted and skipped). A frame longer than a ring
 * frame (a GSO frame from a peer's TSO in a ring sized for the MTU) comes with TP_STATUS_COPY:
 * with PACKET_COPY_THRESH the kernel queues the whole of it on the socket too, in order, so it
 * is read from there (virtio_net_hdr first, as PACKET_VNET_HDR gives it) and kept until a
 * batch has room for it. Without it such frames would be cut to the ring frame and lost.
 */
static int take(handle_t *h, batch_t *b, const ring_frame_t *f) {
  if (!(f->status & TP_STATUS_COPY)) return take_frame(h, b, f);
  if (!h->pending) {
    ssize_t r = recv(h->fd, h->big, h->big_len, MSG_DONTWAIT | MSG_TRUNC);
    if (r < VNET_HDR_LEN || (size_t)r > h->big_len) {
      h->st.truncated++;
      return TAKE_DONE;
    }
    h->pending = (uint32_t)r;
  }
  ring_frame_t whole = *f;
  whole.status &= ~(uint32_t)TP_STATUS_COPY;
  whole.mac = h->big + VNET_HDR_LEN;
  whole.snaplen = h->pending - VNET_HDR_LEN;
  if (whole.len < whole.snaplen) whole.len = whole.snaplen;
  int r = take_frame(h, b, &whole);
  if (r == TAKE_DONE) h->pending = 0;
  return r;
}

static int take_frame(handle_t *h, batch_t *b, const ring_frame_t *f) {
  if ((f->status & TP_STATUS_COPY) || f->snaplen < f->len) {
    h->st.truncated++;
    return TAKE_DONE;
  }
  bool tag = (f->status & TP_STATUS_VLAN_VALID) != 0;
  uint32_t len = f->snaplen + (tag ? 4 : 0);
  struct virtio_net_hdr vh;
  memcpy(&vh, f->mac - VNET_HDR_LEN, VNET_HDR_LEN);
  if (!h->passthrough && vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
    if (len > h->scratch_len) {
      h->st.oversized++;
      return TAKE_DONE;
    }
    copy_tagged(h->scratch, f, tag);
    if (tag) h->st.vlan_restored++;
    int r = segment(h, b, f, &vh, h->scratch, len);
    if (r == TAKE_FULL && tag) h->st.vlan_restored--;
    return r;
  }
  if (b->n >= b->max || (uint64_t)b->cursor + slot_room(len) > b->end) {
    if (b->n > 0) return TAKE_FULL;
    h->st.oversized++;
    return TAKE_DONE;
  }
  uint8_t *slot = batch_put(b, len, f->len + (tag ? 4 : 0), f);
  uint8_t *p = slot + XDP_PACKET_HEADROOM;
  copy_tagged(p, f, tag);
  if (tag) h->st.vlan_restored++;
  if (h->passthrough) {
    if (tag && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) vh.csum_start = (uint16_t)(vh.csum_start + 4);
    if (tag && vh.hdr_len) vh.hdr_len = (uint16_t)(vh.hdr_len + 4);
    memcpy(slot, &vh, VNET_HDR_LEN);
  } else {
    memset(slot, 0, VNET_HDR_LEN);
    if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
      uint32_t start = vh.csum_start + (tag ? 4u : 0u), at = start + vh.csum_offset;
      if (at + 2 <= len) {
        uint16_t c = csum_fold(csum_add(0, p + start, len - start));
        if (c == 0 && vh.csum_offset == 6) c = 0xffff; /* UDP: 0 means "no checksum" */
        memcpy(p + at, &c, 2);
        h->st.csum_completed++;
      }
    }
  }
  h->st.rx_frames++;
  h->st.rx_bytes += len;
  return TAKE_DONE;
}

/* ---- the ring, per version ---- */
static inline uint8_t *v2_frame(handle_t *h, uint32_t i) {
  return h->ring + (size_t)(i / h->frames_per_block) * h->block_size + (size_t)(i % h->frames_per_block) * h->frame_size;
}

static inline bool v2_ready(handle_t *h) {
  struct tpacket2_hdr *t = (struct tpacket2_hdr *)v2_frame(h, h->cur);
  return __atomic_load_n(&t->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER;
}

static void rx_v2(handle_t *h, batch_t *b) {
  while (b->n < b->max) {
    struct tpacket2_hdr *t = (struct tpacket2_hdr *)v2_frame(h, h->cur);
    uint32_t status = __atomic_load_n(&t->tp_status, __ATOMIC_ACQUIRE);
    if (!(status & TP_STATUS_USER)) break;
    ring_frame_t f = {status, t->tp_len, t->tp_snaplen, t->tp_sec, t->tp_nsec, t->tp_vlan_tci, t->tp_vlan_tpid, (uint8_t *)t + t->tp_mac};
    if (take(h, b, &f) == TAKE_FULL) break;
    __atomic_store_n(&t->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    h->cur = (h->cur + 1) % h->frame_nr;
  }
}

static inline struct tpacket_block_desc *v3_block(handle_t *h) { return (struct tpacket_block_desc *)(h->ring + (size_t)h->cur * h->block_size); }

static inline bool v3_ready(handle_t *h) {
  return h->v3_left > 0 || (__atomic_load_n(&v3_block(h)->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER);
}

static void rx_v3(handle_t *h, batch_t *b) {
  while (b->n < b->max) {
    struct tpacket_block_desc *bd = v3_block(h);
    if (h->v3_left == 0) {
      if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
      h->v3_left = bd->hdr.bh1.num_pkts;
      h->v3_next = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
      if (h->v3_left == 0) { /* an empty block (a timeout with nothing in it) */
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        h->cur = (h->cur + 1) % h->block_nr;
        continue;
      }
    }
    struct tpacket3_hdr *t = (struct tpacket3_hdr *)h->v3_next;
    ring_frame_t f = {t->tp_status, t->tp_len, t->tp_snaplen, t->tp_sec, t->tp_nsec, t->hv1.tp_vlan_tci, t->hv1.tp_vlan_tpid, (uint8_t *)t + t->tp_mac};
    if (take(h, b, &f) == TAKE_FULL) break;
    h->v3_next += t->tp_next_offset;
    if (--h->v3_left == 0) {
      __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      h->cur = (h->cur + 1) % h->block_nr;
    }
  }
}

static inline bool ring_ready(handle_t *h) { return h->version == TPACKET_V3 ? v3_ready(h) : v2_ready(h); }

/* ---- the JS functions ---- */
#define ARGS(n)                                                   \
  size_t argc = (n);                                              \
  napi_value argv[(n) > 0 ? (n) : 1];                             \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);           \
  if (argc < (n)) {                                               \
    napi_throw_type_error(env, NULL, "expected " #n " arguments"); \
    return NULL;                                                  \
  }

/* ifindex(name): if_nametoindex, ENODEV when there is no such interface. */
static napi_value js_ifindex(napi_env env, napi_callback_info info) {
  ARGS(1);
  char name[256];
  size_t n;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "interface name: expected a string");
    return NULL;
  }
  unsigned idx = n < IF_NAMESIZE ? if_nametoindex(name) : 0;
  if (!idx) {
    throw_errno(env, "ifindex", name, ENODEV);
    return NULL;
  }
  napi_value r;
  napi_create_uint32(env, idx, &r);
  return r;
}

static bool sockopt(napi_env env, handle_t *h, const char *what, int level, int opt, const void *val, socklen_t len) {
  if (setsockopt(h->fd, level, opt, val, len) == 0) return true;
  throw_errno(env, what, h->ifname, errno);
  return false;
}

static uint32_t next_pow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

/* setup_ring: PACKET_RX_RING in whole-frame, page-multiple blocks (V2) or 10 ms-retired blocks (V3), then mmap. */
static bool setup_ring(napi_env env, handle_t *h, uint32_t ring_frames, uint32_t frame_size) {
  long page = sysconf(_SC_PAGESIZE);
  union {
    struct tpacket_req r2;
    struct tpacket_req3 r3;
  } req;
  memset(&req, 0, sizeof req);
  if (h->version == TPACKET_V2) {
    h->block_size = (frame_size + (uint32_t)page - 1) / (uint32_t)page * (uint32_t)page;
    h->frames_per_block = h->block_size / frame_size;
    h->block_nr = (ring_frames + h->frames_per_block - 1) / h->frames_per_block;
  } else {
    uint64_t total = (uint64_t)ring_frames * frame_size;
    uint32_t bs = next_pow2(frame_size);
    if (bs < (1u << 20) && total >= 8ull << 20) bs = 1u << 20; /* 1 MiB blocks when the ring holds at least 8 */
    if (bs < (uint32_t)page) bs = (uint32_t)page;
    h->block_size = bs;
    h->frames_per_block = bs / frame_size;
    h->block_nr = (uint32_t)((total + bs - 1) / bs);
    if (h->block_nr < 2) h->block_nr = 2;
  }
  h->frame_size = frame_size;
  h->frame_nr = h->frames_per_block * h->block_nr;
  req.r3.tp_block_size = h->block_size;
  req.r3.tp_block_nr = h->block_nr;
  req.r3.tp_frame_size = h->frame_size;
  req.r3.tp_frame_nr = h->frame_nr;
  if (h->version == TPACKET_V3) req.r3.tp_retire_blk_tov = V3_BLOCK_TOV_MS;
  if (!sockopt(env, h, "rx ring", SOL_PACKET, PACKET_RX_RING, &req, h->version == TPACKET_V3 ? sizeof req.r3 : sizeof req.r2))
    return false;
  h->ring_len = (size_t)h->block_size * h->block_nr;
  void *m = mmap(NULL, h->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, h->fd, 0);
  if (m == MAP_FAILED) {
    throw_errno(env, "mmap ring", h->ifname, errno);
    return false;
  }
  h->ring = m;
  return true;
}

/* open(ifname, options): a bound AF_PACKET socket with its RX ring; returns a handle id. */
static napi_value js_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  char full[256];
  size_t n;
  if (napi_get_value_string_utf8(env, argv[0], full, sizeof full, &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "open: interface name: expected a string");
    return NULL;
  }
  napi_value o = argv[1];
  uint32_t fanout, ring_frames, frame_size, version, sndbuf;
  if (!opt_u32(env, o, "fanoutGroup", 0, &fanout) || !opt_u32(env, o, "ringFrames", 4096, &ring_frames) ||
      !opt_u32(env, o, "frameSize", 2048, &frame_size) || !opt_u32(env, o, "version", 2, &version) || !opt_u32(env, o, "sndbuf", 0, &sndbuf))
    return NULL;
  char offloads[16] = "off";
  napi_value ov = get_prop(env, o, "offloads");
  napi_valuetype ot;
  if (ov && napi_typeof(env, ov, &ot) == napi_ok && ot == napi_string) napi_get_value_string_utf8(env, ov, offloads, sizeof offloads, &n);
  if ((version != 2 && version != 3) || (strcmp(offloads, "off") && strcmp(offloads, "passthrough")) || ring_frames == 0 ||
      frame_size < TPACKET_ALIGN(TPACKET3_HDRLEN) + 64 || frame_size % TPACKET_ALIGNMENT || frame_size > (1u << 22)) {
    throw_errno(env, "open", full, EINVAL);
    return NULL;
  }
  unsigned idx = n < IF_NAMESIZE ? if_nametoindex(full) : 0;
  if (!idx) {
    throw_errno(env, "open", full, ENODEV);
    return NULL;
  }
  handle_t *h = calloc(1, sizeof *h);
  if (!h) {
    throw_errno(env, "open", full, ENOMEM);
    return NULL;
  }
  h->fd = -1;
  h->ifindex = (int)idx;
  memcpy(h->ifname, full, n + 1); /* n < IF_NAMESIZE: if_nametoindex found it */
  h->version = version == 3 ? TPACKET_V3 : TPACKET_V2;
  h->passthrough = strcmp(offloads, "passthrough") == 0;
  /* protocol 0 until bound, so that no other interface's frames queue up meanwhile */
  h->fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (h->fd < 0) {
    throw_errno(env, "open", full, errno);
    handle_free(h);
    return NULL;
  }
  int one = 1, ver = h->version;
  bool bypass = opt_bool(env, o, "qdiscBypass");
  if (!sockopt(env, h, "packet version", SOL_PACKET, PACKET_VERSION, &ver, sizeof ver) ||
      !sockopt(env, h, "vnet header", SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) ||
      !sockopt(env, h, "ignore outgoing", SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) ||
      !sockopt(env, h, "copy threshold", SOL_PACKET, PACKET_COPY_THRESH, &one, sizeof one) ||
      (bypass && !sockopt(env, h, "qdisc bypass", SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one)) ||
      !setup_ring(env, h, ring_frames, frame_size))
    goto fail;
  {
    /* room on the socket's queue for frames too big for a ring frame (TP_STATUS_COPY): a burst of 64 KiB GSO frames */
    int v = 16 << 20;
    if (setsockopt(h->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0) (void)setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
  }
  if (sndbuf) {
    int v = (int)sndbuf;
    if (setsockopt(h->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) != 0 &&
        !sockopt(env, h, "send buffer", SOL_SOCKET, SO_SNDBUF, &v, sizeof v))
      goto fail;
  }
  struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = h->ifindex};
  if (bind(h->fd, (struct sockaddr *)&sll, sizeof sll) != 0) {
    throw_errno(env, "bind", full, errno);
    goto fail;
  }
  if (opt_bool(env, o, "promisc")) {
    struct packet_mreq mr = {.mr_ifindex = h->ifindex, .mr_type = PACKET_MR_PROMISC};
    if (!sockopt(env, h, "promisc", SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr)) goto fail;
    h->promisc = true;
  }
  if (fanout) {
    int arg = (int)((fanout & 0xffff) | (PACKET_FANOUT_HASH << 16));
    if (!sockopt(env, h, "fanout", SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg)) goto fail;
  }
  h->scratch_len = (frame_size > MAX_FRAME ? frame_size : MAX_FRAME) + 4;
  h->scratch = malloc(h->scratch_len);
  h->big_len = VNET_HDR_LEN + MAX_FRAME;
  h->big = malloc(h->big_len);
  if (!h->scratch || !h->big) {
    throw_errno(env, "open", full, ENOMEM);
    goto fail;
  }
  instance_t *in = instance(env);
  if (in->n == 0) in->n = 1;
  handle_t **grown = realloc(in->h, sizeof *in->h * (in->n + 1));
  if (!grown) {
    throw_errno(env, "open", full, ENOMEM);
    goto fail;
  }
  in->h = grown;
  in->h[0] = NULL;
  in->h[in->n] = h;
  napi_value r;
  napi_create_uint32(env, in->n++, &r);
  return r;
fail:
  handle_free(h);
  return NULL;
}

/* poll(handles, timeoutMs): bit i set when handles[i] has frames ready; the rings first, poll(2) only if none. */
static napi_value js_poll(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t count, timeout;
  bool is;
  if (napi_is_array(env, argv[0], &is) != napi_ok || !is || napi_get_array_length(env, argv[0], &count) != napi_ok || count > MAX_POLL) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "poll: handles: expected an array of at most 32 handles");
    return NULL;
  }
  if (!arg_u32(env, argv[1], "timeoutMs", &timeout)) return NULL;
  handle_t *hs[MAX_POLL];
  struct pollfd pfd[MAX_POLL];
  uint32_t mask = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    napi_get_element(env, argv[0], i, &v);
    if (!(hs[i] = arg_handle(env, v, "poll"))) return NULL;
    if (ring_ready(hs[i])) mask |= 1u << i;
    pfd[i] = (struct pollfd){.fd = hs[i]->fd, .events = POLLIN};
  }
  if (!mask && count && timeout) {
    if (poll(pfd, count, (int)(timeout > 0x7fffffff ? 0x7fffffff : timeout)) < 0 && errno != EINTR) {
      throw_errno(env, "poll", hs[0]->ifname, errno);
      return NULL;
    }
    for (uint32_t i = 0; i < count; i++)
      if (ring_ready(hs[i])) mask |= 1u << i;
  }
  napi_value r;
  napi_create_uint32(env, mask, &r);
  return r;
}

/* rx(handle, mem, desc, maxFrames, slotAt, slotEnd): ready frames into slots; returns how many descriptors. */
static napi_value js_rx(napi_env env, napi_callback_info info) {
  ARGS(6);
  handle_t *h = arg_handle(env, argv[0], "rx");
  if (!h) return NULL;
  batch_t b = {0};
  if (!arg_mem(env, argv[1], &b.mem, &b.memlen) || !arg_u32(env, argv[2], "desc", &b.desc) || !arg_u32(env, argv[3], "maxFrames", &b.max) ||
      !arg_u32(env, argv[4], "slotAt", &b.cursor) || !arg_u32(env, argv[5], "slotEnd", &b.end))
    return NULL;
  if ((uint64_t)b.desc + (uint64_t)b.max * D_BYTES > b.memlen) {
    range_error(env, "rx: descriptors", b.desc, (uint64_t)b.max * D_BYTES, b.memlen);
    return NULL;
  }
  if (b.cursor > b.end || b.end > b.memlen || b.cursor % 64) {
    range_error(env, "rx: slot area (64-byte aligned start)", b.cursor, b.end >= b.cursor ? b.end - b.cursor : 0, b.memlen);
    return NULL;
  }
  if (h->version == TPACKET_V3)
    rx_v3(h, &b);
  else
    rx_v2(h, &b);
  napi_value r;
  napi_create_uint32(env, b.n, &r);
  return r;
}

static const struct virtio_net_hdr ZERO_VNET;

/* send(handle, mem, list, count): sendmmsg of [virtio_net_hdr, frame] pairs; returns frames sent. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  ARGS(4);
  handle_t *h = arg_handle(env, argv[0], "send");
  if (!h) return NULL;
  uint8_t *mem;
  size_t memlen, list_len;
  uint32_t count;
  bool is;
  napi_typedarray_type t;
  void *lp;
  if (!arg_mem(env, argv[1], &mem, &memlen)) return NULL;
  if (napi_is_typedarray(env, argv[2], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[2], &t, &list_len, &lp, NULL, NULL) != napi_ok || t != napi_int32_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "send: list: expected an Int32Array of [addr, len, vnetAt] triples");
    return NULL;
  }
  if (!arg_u32(env, argv[3], "count", &count)) return NULL;
  if ((uint64_t)count * 3 > list_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "send: count: more triples than the list holds");
    return NULL;
  }
  const int32_t *list = lp;
  for (uint32_t i = 0; i < count; i++) { /* every address first: a bad one sends nothing */
    int64_t addr = list[3 * i], len = list[3 * i + 1], vnet = list[3 * i + 2];
    if (addr < 0 || len < 0 || (uint64_t)addr + (uint64_t)len > memlen) return range_error(env, "send: frame", (uint64_t)addr, (uint64_t)len, memlen), NULL;
    if (vnet < 0 || (vnet && (uint64_t)vnet + VNET_HDR_LEN > memlen)) return range_error(env, "send: vnet header", (uint64_t)vnet, VNET_HDR_LEN, memlen), NULL;
  }
  struct mmsghdr msgs[SEND_CHUNK];
  struct iovec iov[SEND_CHUNK][2];
  uint32_t sent = 0;
  for (uint32_t done = 0; done < count;) {
    uint32_t n = count - done < SEND_CHUNK ? count - done : SEND_CHUNK;
    for (uint32_t k = 0; k < n; k++) {
      const int32_t *e = list + 3 * (done + k);
      iov[k][0] = (struct iovec){.iov_base = e[2] ? mem + e[2] : (void *)&ZERO_VNET, .iov_len = VNET_HDR_LEN};
      iov[k][1] = (struct iovec){.iov_base = mem + e[0], .iov_len = (size_t)e[1]};
      msgs[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = iov[k], .msg_iovlen = 2}};
    }
    uint32_t k = 0, stalls = 0;
    while (k < n) {
      int r = sendmmsg(h->fd, msgs + k, n - k, MSG_DONTWAIT);
      if (r > 0) {
        for (int j = 0; j < r; j++) h->st.tx_bytes += (double)iov[k + (uint32_t)j][1].iov_len;
        k += (uint32_t)r;
        sent += (uint32_t)r;
        h->st.tx_frames += r;
        stalls = 0;
      } else if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
        if (stalls == SEND_RETRIES) { /* out of retries: the rest of the list is lost */
          h->st.tx_errors += (double)(count - done - k);
          goto out;
        }
        stalls++;
        h->st.tx_retries++;
        struct pollfd p = {.fd = h->fd, .events = POLLOUT};
        poll(&p, 1, SEND_RETRY_MS);
      } else {
        h->st.tx_errors++; /* this frame failed (EMSGSIZE, ENETDOWN, ...): skip it */
        k++;
      }
    }
    done += n;
  }
out:;
  napi_value r;
  napi_create_uint32(env, sent, &r);
  return r;
}

static void set_num(napi_env env, napi_value o, const char *name, double v) {
  napi_value x;
  napi_create_double(env, v, &x);
  napi_set_named_property(env, o, name, x);
}

/* stats(handle): the handle's counters, PACKET_STATISTICS folded in (reading resets the kernel's). */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  ARGS(1);
  handle_t *h = arg_handle(env, argv[0], "stats");
  if (!h) return NULL;
  struct tpacket_stats_v3 ks = {0};
  socklen_t len = h->version == TPACKET_V3 ? sizeof(struct tpacket_stats_v3) : sizeof(struct tpacket_stats);
  if (getsockopt(h->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len) != 0) {
    throw_errno(env, "stats", h->ifname, errno);
    return NULL;
  }
  h->st.kernel_drops += ks.tp_drops;
  h->st.kernel_packets += ks.tp_packets;
  napi_value o;
  napi_create_object(env, &o);
  const stats_t *s = &h->st;
  set_num(env, o, "rxFrames", s->rx_frames);
  set_num(env, o, "rxBytes", s->rx_bytes);
  set_num(env, o, "kernelDrops", s->kernel_drops);
  set_num(env, o, "kernelPackets", s->kernel_packets);
  set_num(env, o, "truncated", s->truncated);
  set_num(env, o, "vlanRestored", s->vlan_restored);
  set_num(env, o, "csumCompleted", s->csum_completed);
  set_num(env, o, "segmented", s->segmented);
  set_num(env, o, "oversized", s->oversized);
  set_num(env, o, "txFrames", s->tx_frames);
  set_num(env, o, "txBytes", s->tx_bytes);
  set_num(env, o, "txErrors", s->tx_errors);
  set_num(env, o, "txRetries", s->tx_retries);
  return o;
}

/* close(handle): the socket, its ring and its memberships. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  handle_t *h = arg_handle(env, argv[0], "close");
  if (!h) return NULL;
  instance_t *in = instance(env);
  for (uint32_t i = 1; i < in->n; i++)
    if (in->h[i] == h) in->h[i] = NULL;
  handle_free(h);
  return NULL;
}

/* permission(): a bare AF_PACKET socket, opened and closed: EPERM without CAP_NET_RAW. */
static napi_value js_permission(napi_env env, napi_callback_info info) {
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) {
    throw_errno(env, "socket", "AF_PACKET", errno);
    return NULL;
  }
  close(fd);
  return NULL;
}

/*
 * peerCred(fd): SO_PEERCRED of a connected Unix socket, {pid, uid, gid}: the credentials the
 * peer had when it called connect(2) or listen(2). The control socket's server checks who
 * connected, and a client checks who listens (appliance/service/peer.ts); Node has no API for it.
 */
static napi_value js_peer_cred(napi_env env, napi_callback_info info) {
  ARGS(1);
  uint32_t fd;
  if (!arg_u32(env, argv[0], "fd", &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    char subject[24];
    snprintf(subject, sizeof subject, "fd %u", fd);
    throw_errno(env, "SO_PEERCRED", subject, errno);
    return NULL;
  }
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, (int32_t)cred.pid, &v);
  napi_set_named_property(env, out, "pid", v);
  napi_create_uint32(env, (uint32_t)cred.uid, &v);
  napi_set_named_property(env, out, "uid", v);
  napi_create_uint32(env, (uint32_t)cred.gid, &v);
  napi_set_named_property(env, out, "gid", v);
  return out;
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  instance_t *in = calloc(1, sizeof *in);
  if (!in || napi_set_instance_data(env, in, instance_finalize, NULL) != napi_ok) return NULL;
  napi_add_env_cleanup_hook(env, instance_cleanup, in);
  export_fn(env, exports, "ifindex", js_ifindex);
  export_fn(env, exports, "open", js_open);
  export_fn(env, exports, "poll", js_poll);
  export_fn(env, exports, "rx", js_rx);
  export_fn(env, exports, "send", js_send);
  export_fn(env, exports, "stats", js_stats);
  export_fn(env, exports, "close", js_close);
  export_fn(env, exports, "permission", js_permission);
  export_fn(env, exports, "peerCred", js_peer_cred);
  napi_value desc;
  napi_create_object(env, &desc);
  static const struct {
    const char *name;
    int32_t off;
  } DESC[] = {{"HARD_START", D_HARD_START}, {"ROOM", D_ROOM}, {"LEN", D_LEN}, {"WIRE_LEN", D_WIRE_LEN}, {"TS_SEC", D_TS_SEC},
              {"TS_NSEC", D_TS_NSEC},       {"SRC", D_SRC},   {"RET", D_RET}, {"BYTES", D_BYTES}};
  for (size_t i = 0; i < sizeof DESC / sizeof DESC[0]; i++) {
    napi_value v;
    napi_create_int32(env, DESC[i].off, &v);
    napi_set_named_property(env, desc, DESC[i].name, v);
  }
  napi_object_freeze(env, desc);
  napi_set_named_property(env, exports, "DESC", desc);
  return exports;
}
