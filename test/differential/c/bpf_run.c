// bpf_run: load raw eBPF bytecode into the running kernel and run it once with
// BPF_PROG_TEST_RUN. Used by test/kernel.test.ts to compare bpfbox with the kernel.
//
//   bpf_run PROG.bin [CTX.bin]
//
// The program is loaded as BPF_PROG_TYPE_SYSCALL (sleepable), whose context is plain memory
// copied from CTX.bin, the closest kernel analogue of a conformance vector's `mem`.
// Prints one of:   retval N        load-error ERRNO <last verifier log line>
//                  run-error ERRNO unavailable ERRNO (bpf() itself refused)
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef BPF_F_SLEEPABLE
#define BPF_F_SLEEPABLE (1U << 4)
#endif

static long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static void *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *buf = malloc(n ? n : 1);
  if (n && fread(buf, 1, n, f) != (size_t)n) { perror(path); exit(2); }
  fclose(f);
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: bpf_run PROG.bin [CTX.bin]\n"); return 2; }
  size_t plen, clen = 0;
  void *prog = slurp(argv[1], &plen);
  void *ctx = argc > 2 ? slurp(argv[2], &clen) : NULL;
  static char log[1 << 16];
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SYSCALL;
  attr.prog_flags = BPF_F_SLEEPABLE;
  attr.insns = (uint64_t)(uintptr_t)prog;
  attr.insn_cnt = plen / 8;
  attr.license = (uint64_t)(uintptr_t)"GPL";
  attr.log_buf = (uint64_t)(uintptr_t)log;
  attr.log_size = sizeof(log);
  attr.log_level = 1;
  long fd = sys_bpf(BPF_PROG_LOAD, &attr);
  if (fd < 0) {
    if (errno == EPERM || errno == ENOSYS) { printf("unavailable %d\n", errno); return 0; }
    // the verifier's verdict is the last non-empty line before "processed ..." or the end
    char *last = NULL, *line = strtok(log, "\n");
    while (line) {
      if (strncmp(line, "processed ", 10) != 0 && strncmp(line, "verification time", 17) != 0) last = line;
      line = strtok(NULL, "\n");
    }
    printf("load-error %d %s\n", errno, last ? last : "");
    return 0;
  }
  memset(&attr, 0, sizeof(attr));
  attr.test.prog_fd = fd;
  attr.test.ctx_in = (uint64_t)(uintptr_t)ctx;
  attr.test.ctx_size_in = clen;
  if (sys_bpf(BPF_PROG_TEST_RUN, &attr) < 0) { printf("run-error %d\n", errno); return 0; }
  printf("retval %u\n", attr.test.retval);
  return 0;
}
