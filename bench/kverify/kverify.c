// kverify: the kernel verifier's own time for each program of a BPF object. It loads the object
// with libbpf ROUNDS times, every program with log_level 4 (BPF_LOG_STATS) into a buffer of its
// own, and prints "NAME USEC INSNS" per program from the logs' "verification time N usec" and
// "processed N insns" lines, the best time of the rounds.
// Usage: kverify OBJ [ROUNDS]. Needs root (BPF) and libbpf.
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXP 64
static char logs[MAXP][1 << 16];

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: kverify OBJ [ROUNDS]\n"); return 2; }
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  libbpf_set_print(NULL);
  char names[MAXP][64];
  long best[MAXP], insns[MAXP];
  int n = 0;
  for (int r = 0; r < rounds; r++) {
    struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
    if (!obj) { fprintf(stderr, "cannot open %s\n", argv[1]); return 1; }
    struct bpf_program *p;
    int i = 0;
    bpf_object__for_each_program(p, obj) {
      if (i >= MAXP) break;
      logs[i][0] = 0;
      bpf_program__set_log_buf(p, logs[i], sizeof(logs[i]));
      bpf_program__set_log_level(p, 4);
      if (r == 0) { snprintf(names[i], sizeof(names[i]), "%s", bpf_program__name(p)); best[i] = -1; insns[i] = -1; }
      i++;
    }
    n = i;
    if (bpf_object__load(obj) != 0) { fprintf(stderr, "load of %s failed\n", argv[1]); return 1; }
    for (i = 0; i < n; i++) {
      char *t = strstr(logs[i], "verification time ");
      char *c = strstr(logs[i], "processed ");
      long us = t ? atol(t + 18) : -1;
      if (c) insns[i] = atol(c + 10);
      if (us >= 0 && (best[i] < 0 || us < best[i])) best[i] = us;
    }
    bpf_object__close(obj);
  }
  for (int i = 0; i < n; i++) printf("%s %ld %ld\n", names[i], best[i], insns[i]);
  return 0;
}
