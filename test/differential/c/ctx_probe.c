// ctx_probe: asks the running kernel's verifier about many small programs at once. Each line
// of stdin is "PROG_TYPE HEX_BYTECODE"; each line of stdout is "ok" (it loaded) or
// "err ERRNO <last verifier log line>" (with -i: "err ERRNO @INSN <line>", INSN the last
// instruction the log shows, -1 if none; with -f: the whole log; with -l LEVEL: the whole log at that level, accepted or not). An lddw with src_reg 1 (BPF_PSEUDO_MAP_FD) or 2
// (BPF_PSEUDO_MAP_VALUE, the offset in the second half) and imm N gets the fd of map N of a
// fixed set made at start: 0, an array (key 4, value 16, 4 entries); 1, a hash (key 8, value 8,
// 16 entries); 2, an array of one entry (key 4, value 16), as global data is; 3, the same
// read-only for programs (BPF_F_RDONLY_PROG), as .rodata is; 4, a ring buffer of 4096 bytes;
// 5, a prog array of 4; 6, an array of 4 maps whose inner maps are like map 0. Used by the
// verifier differential tests (test/support/verdict.ts describes the same set to bpfbox).
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int make_map_inner(unsigned type, unsigned key, unsigned value, unsigned entries, unsigned flags, int inner) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.inner_map_fd = inner;
  a.map_flags = flags;
  a.map_type = type;
  a.key_size = key;
  a.value_size = value;
  a.max_entries = entries;
  return syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
}
static int make_map(unsigned type, unsigned key, unsigned value, unsigned entries, unsigned flags) { return make_map_inner(type, key, value, entries, flags, 0); }
#define NMAPS 7

int main(int argc, char **argv) {
  int with_insn = argc > 1 && strcmp(argv[1], "-i") == 0; // "err ERRNO @INSN message": the last instruction the log shows
  int full = argc > 1 && strcmp(argv[1], "-f") == 0;      // "err ERRNO <every log line, joined by ' | '>" (for people)
  // -l LEVEL: "ok <log>" or "err ERRNO <log>" at that log level, every line, joined by '|', for accepted programs too
  int level = argc > 2 && strcmp(argv[1], "-l") == 0 ? atoi(argv[2]) : 0;
  if (level) full = 1;
  int maps[NMAPS] = { make_map(BPF_MAP_TYPE_ARRAY, 4, 16, 4, 0), make_map(BPF_MAP_TYPE_HASH, 8, 8, 16, 0), make_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, 0),
                      make_map(BPF_MAP_TYPE_ARRAY, 4, 16, 1, BPF_F_RDONLY_PROG), make_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096, 0),
                      make_map(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, 4, 0), 0 };
  maps[6] = make_map_inner(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, 4, 0, maps[0]);
  for (int m = 0; m < NMAPS; m++) if (maps[m] < 0) { perror("map create"); return 1; }
  // programs up to 65536 instructions (BPF_MAXINSNS is 4096 unprivileged, 1M privileged)
  static char line[1 << 21], log[1 << 24];
  static unsigned char insns[1 << 19];
  while (fgets(line, sizeof(line), stdin)) {
    unsigned type;
    static char hex[1 << 20];
    if (sscanf(line, "%u %1048575s", &type, hex) != 2) { printf("bad-input\n"); fflush(stdout); continue; }
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &insns[i]);
    for (size_t i = 0; i + 16 <= n; i += 8) {
      struct bpf_insn *in = (struct bpf_insn *)(insns + i);
      if (in->code == (BPF_LD | BPF_DW | BPF_IMM) && (in->src_reg == BPF_PSEUDO_MAP_FD || in->src_reg == BPF_PSEUDO_MAP_VALUE) && in->imm >= 0 && in->imm < NMAPS) in->imm = maps[in->imm];
      if (in->code == (BPF_LD | BPF_DW | BPF_IMM)) i += 8;
    }
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = type;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = n / 8;
    attr.license = (uint64_t)(uintptr_t)"GPL";
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof(log);
    attr.log_level = level ? level : 1;
    log[0] = 0;
    long fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (fd >= 0 && level) {
      close(fd);
      for (char *c = log; *c; c++) if (*c == '\n') *c = '|';
      printf("ok %s\n", log);
      fflush(stdout);
      continue;
    }
    if (fd >= 0) { close(fd); printf("ok\n"); fflush(stdout); continue; }
    int err = errno;
    if (full) {
      for (char *c = log; *c; c++) if (*c == '\n') *c = '|';
      printf("err %d %s\n", err, log);
      fflush(stdout);
      continue;
    }
    char *last = NULL, *l = strtok(log, "\n");
    int at = -1;
    while (l) {
      int n, k;
      if (sscanf(l, "%d: (%x)", &n, &k) == 2) at = n;
      // some messages lack their newline: the summary line then follows on the same line
      char *p = strstr(l, "processed ");
      if (p && p != l && strstr(p, " insns (limit ")) *p = 0;
      // and an infinite loop's message may follow the instruction on its line
      char *loop = strstr(l, "infinite loop detected");
      if (loop) l = loop;
      // the last line that says something: not the summary, not the states an infinite loop prints
      if (strncmp(l, "processed ", 10) != 0 && strncmp(l, "verification time", 17) != 0 && strncmp(l, "cur state:", 10) != 0 && strncmp(l, "old state:", 10) != 0) last = l;
      l = strtok(NULL, "\n");
    }
    if (with_insn) printf("err %d @%d %s\n", err, at, last ? last : "");
    else printf("err %d %s\n", err, last ? last : "");
    fflush(stdout);
  }
  return 0;
}
