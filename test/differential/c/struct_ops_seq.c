// struct_ops_seq: runs a struct_ops script (test/differential/structOps.test.ts) against the
// running kernel with raw bpf(2) calls and prints one answer per line, as the test's bpfbox
// side does. Commands (names are small integers: P<n> programs, M<n> maps, L<n> links, V<n> values):
//   prog P MEMBER KIND LICENSE ATTACH     KIND ret1|void|ctx8|ctx24; ATTACH tcp|0|value
//   map M FLAGS KEYSIZE MAXENT VALSIZE VT VT tcp (the value type)|struct|1
//   val V NAME | slot V MEMBER P|map:M|fd:N | poke V OFF BYTE
//   upd M V KEY FLAGS | lookup M KEY | del M KEY
//   link L M ATTACH | lupd L M OLDM FLAGS | detach L | close P|M|L
// Each line answers "ERRNO" (0 on success), lookups "0 state=S refcnt=R slots=I:P… name=N".
// Build: cc -O2 -o struct_ops_seq struct_ops_seq.c -lbpf
#include <bpf/btf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VALUE_SIZE 256
#define DATA 64
#define N 16

static int progs[N], maps[N], links[N];
static unsigned char vals[N][VALUE_SIZE];
static __u32 prog_ids[N];
static int tcp_id, value_id, user_btf_fd;

static int sys(int cmd, union bpf_attr *a) {
  int r = syscall(__NR_bpf, cmd, a, sizeof(*a));
  return r < 0 ? -errno : r;
}

static const unsigned char RET1[] = {0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
static const unsigned char VOID[] = {0x95, 0, 0, 0, 0, 0, 0, 0};
// r2 = *(u32 *)(r1 + 8); exit   /   r2 = *(u64 *)(r1 + 24); exit
static const unsigned char CTX8[] = {0x61, 0x12, 8, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};
static const unsigned char CTX24[] = {0x79, 0x12, 24, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0};

static int idx(const char *s) { return atoi(s + 1) % N; }

int main(void) {
  struct btf *btf = btf__load_vmlinux_btf();
  if (!btf) return 2;
  tcp_id = btf__find_by_name_kind(btf, "tcp_congestion_ops", BTF_KIND_STRUCT);
  value_id = btf__find_by_name_kind(btf, "bpf_struct_ops_tcp_congestion_ops", BTF_KIND_STRUCT);
  // map_create wants the loader's own BTF beside btf_vmlinux_value_type_id (bpfbox has no BTF objects: not compared)
  struct btf *user = btf__new_empty();
  btf__add_int(user, "int", 4, BTF_INT_SIGNED);
  if (btf__load_into_kernel(user)) return 3;
  user_btf_fd = btf__fd(user);
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    char c[16] = "", a[64] = "", b[64] = "", d[64] = "", e[64] = "", f[64] = "", g[64] = "";
    sscanf(line, "%15s %63s %63s %63s %63s %63s %63s", c, a, b, d, e, f, g);
    union bpf_attr at;
    memset(&at, 0, sizeof at);
    int r = 0;
    if (!strcmp(c, "prog")) {
      const unsigned char *code = !strcmp(d, "void") ? VOID : !strcmp(d, "ctx8") ? CTX8 : !strcmp(d, "ctx24") ? CTX24 : RET1;
      size_t len = code == VOID ? sizeof VOID : 16;
      at.prog_type = BPF_PROG_TYPE_STRUCT_OPS;
      at.insns = (uintptr_t)code;
      at.insn_cnt = len / 8;
      at.license = (uintptr_t)e;
      at.expected_attach_type = atoi(b);
      at.attach_btf_id = !strcmp(f, "tcp") ? tcp_id : !strcmp(f, "value") ? value_id : 0;
      r = sys(BPF_PROG_LOAD, &at);
      if (r >= 0) {
        progs[idx(a)] = r;
        struct bpf_prog_info info;
        memset(&info, 0, sizeof info);
        union bpf_attr ia;
        memset(&ia, 0, sizeof ia);
        ia.info.bpf_fd = r;
        ia.info.info_len = sizeof info;
        ia.info.info = (uintptr_t)&info;
        sys(BPF_OBJ_GET_INFO_BY_FD, &ia);
        prog_ids[idx(a)] = info.id;
        r = 0;
      }
    } else if (!strcmp(c, "map")) {
      at.map_type = BPF_MAP_TYPE_STRUCT_OPS;
      at.map_flags = strtoul(b, 0, 0);
      at.btf_fd = user_btf_fd;
      at.key_size = atoi(d);
      at.max_entries = atoi(e);
      at.value_size = atoi(f);
      at.btf_vmlinux_value_type_id = !strcmp(g, "tcp") ? value_id : !strcmp(g, "struct") ? tcp_id : atoi(g);
      r = sys(BPF_MAP_CREATE, &at);
      if (r >= 0) maps[idx(a)] = r, r = 0;
    } else if (!strcmp(c, "val")) {
      memset(vals[idx(a)], 0, VALUE_SIZE);
      if (strcmp(b, "-")) memcpy(vals[idx(a)] + DATA + 88, b, strlen(b) < 16 ? strlen(b) : 16);
    } else if (!strcmp(c, "slot")) {
      uint64_t fd = !strncmp(d, "map:", 4) ? maps[idx(d + 4)] : !strncmp(d, "fd:", 3) ? atoi(d + 3) : progs[idx(d)];
      memcpy(vals[idx(a)] + DATA + 8 * atoi(b), &fd, 8);
    } else if (!strcmp(c, "poke")) {
      vals[idx(a)][atoi(b)] = strtoul(d, 0, 0);
    } else if (!strcmp(c, "upd") || !strcmp(c, "lookup") || !strcmp(c, "del")) {
      __u32 key = atoi(c[0] == 'u' ? d : b);
      unsigned char out[VALUE_SIZE];
      at.map_fd = maps[idx(a)];
      at.key = (uintptr_t)&key;
      if (c[0] == 'u') {
        at.value = (uintptr_t)vals[idx(b)];
        at.flags = strtoul(e, 0, 0);
        r = sys(BPF_MAP_UPDATE_ELEM, &at);
      } else if (c[0] == 'd') {
        r = sys(BPF_MAP_DELETE_ELEM, &at);
      } else {
        at.value = (uintptr_t)out;
        r = sys(BPF_MAP_LOOKUP_ELEM, &at);
        if (r == 0) {
          __u32 refcnt, state;
          memcpy(&refcnt, out, 4);
          memcpy(&state, out + 4, 4);
          printf("0 state=%u refcnt=%u slots=", state, refcnt);
          for (int m = 0; m < 18; m++) {
            uint64_t id;
            memcpy(&id, out + DATA + 8 * m, 8);
            // name, list; key and flags (word 16): the kernel shows tcp's jhash key there after a plain
            // registration, which bpfbox does not compute (a known difference)
            if (m == 11 || m == 13 || m == 16 || !id) continue;
            int p = -1;
            for (int i = 0; i < N; i++)
              if (prog_ids[i] && prog_ids[i] == id) p = i;
            printf("%d:P%d,", m, p);
          }
          char name[17] = {0};
          memcpy(name, out + DATA + 88, 16);
          printf(" name=%s\n", name);
          continue;
        }
      }
    } else if (!strcmp(c, "link")) {
      at.link_create.prog_fd = maps[idx(b)]; // map_fd, a union with prog_fd
      at.link_create.attach_type = atoi(d);
      r = sys(BPF_LINK_CREATE, &at);
      if (r >= 0) links[idx(a)] = r, r = 0;
    } else if (!strcmp(c, "lupd")) {
      at.link_update.link_fd = links[idx(a)];
      at.link_update.new_prog_fd = maps[idx(b)]; // new_map_fd
      at.link_update.old_prog_fd = strcmp(d, "-") ? maps[idx(d)] : 0; // old_map_fd
      at.link_update.flags = strtoul(e, 0, 0);
      r = sys(BPF_LINK_UPDATE, &at);
    } else if (!strcmp(c, "detach")) {
      at.link_detach.link_fd = links[idx(a)];
      r = sys(BPF_LINK_DETACH, &at);
    } else if (!strcmp(c, "close")) {
      int *t = a[0] == 'P' ? progs : a[0] == 'M' ? maps : links;
      r = close(t[idx(a)]) ? -errno : 0;
    }
    printf("%d\n", r < 0 ? -r : r);
    fflush(stdout);
  }
  return 0;
}
