// kload: the running kernel's decision on each program of a BPF object, each loaded ALONE
// (every other program's autoload off) with libbpf, as `bpftool prog load` would (no test flags).
// Usage: kload OBJ [RUNPROG...] [-a AUXPROG...]. AUXPROGs (the selftests' __auxiliary ones) load
// along with each program, as test_loader loads them. For each program it prints one tab-separated line:
//   NAME TYPE STAGE ERRNO RETVAL MSG
// STAGE: "ok" (loaded), "verifier" (BPF_PROG_LOAD refused it), "loader" (libbpf failed before the
// kernel saw the program: relocation, ksym, map creation). RETVAL: the BPF_PROG_TEST_RUN result on
// 64 zero bytes (as the selftests' test_loader runs) for the programs named as RUNPROG, else "-";
// "E<errno>" when the test run itself failed. MSG: the last line of the verifier log (or of
// libbpf's own messages for "loader"), tabs and newlines replaced. Needs root and libbpf.
// Built at run time by bench/selftests (cc kload.c with the libbpf of the selftests' own source tree,
// or Debian's -lbpf); never committed as a binary.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SIZE (16 << 20)
static char vlog[LOG_SIZE];
static char plog[1 << 16]; /* libbpf's own messages for the current load */
static size_t plen;

static int capture(enum libbpf_print_level level, const char *fmt, va_list ap) {
  (void)level;
  if (plen < sizeof(plog) - 1) {
    int n = vsnprintf(plog + plen, sizeof(plog) - plen, fmt, ap);
    if (n > 0) plen += (size_t)n;
    if (plen >= sizeof(plog)) plen = sizeof(plog) - 1;
  }
  return 0;
}

/** lastLine copies the last line of text that says something (not the statistics lines, nor the
 * states printed after `infinite loop detected`). */
static void lastLine(const char *text, char *out, size_t size) {
  out[0] = 0;
  const char *end = text + strlen(text);
  while (end > text) {
    const char *e = end;
    while (e > text && (e[-1] == '\n' || e[-1] == ' ')) e--;
    const char *s = e;
    while (s > text && s[-1] != '\n') s--;
    size_t n = (size_t)(e - s);
    end = s;
    if (!n) continue;
    if (!strncmp(s, "processed ", 10) || !strncmp(s, "verification time", 17) || !strncmp(s, "stack depth", 11) ||
        !strncmp(s, "cur state:", 10) || !strncmp(s, "old state:", 10) ||
        !strncmp(s, "-- END PROG LOAD LOG --", 23) || strstr(s, "-- BEGIN PROG LOAD LOG --") == s)
      continue;
    if (n >= size) n = size - 1;
    memcpy(out, s, n);
    out[n] = 0;
    for (char *c = out; *c; c++)
      if (*c == '\t' || *c == '\n' || *c == '\r') *c = ' ';
    return;
  }
}

/** libbpfLine copies the line of libbpf's messages that says why: "BPF program load failed: …" when
 * the kernel refused without a verifier log, else the last one before libbpf's closing
 * "failed to load object" / "failed to load: -N". */
static void libbpfLine(char *text, char *out, size_t size) {
  out[0] = 0;
  char *hit = strstr(text, "BPF program load failed");
  if (hit) {
    while (hit > text && hit[-1] != '\n') hit--;
    char *nl = strchr(hit, '\n');
    size_t n = nl ? (size_t)(nl - hit) : strlen(hit);
    if (n >= size) n = size - 1;
    memcpy(out, hit, n);
    out[n] = 0;
    return;
  }
  char *end = text + strlen(text);
  for (;;) {
    lastLine(text, out, size);
    if (!out[0] || (!strstr(out, "failed to load object") && !strstr(out, "failed to load: -"))) return;
    /* drop that line and look again */
    while (end > text && (end[-1] == '\n' || end[-1] == ' ')) end--;
    while (end > text && end[-1] != '\n') end--;
    *end = 0;
    if (end == text) { out[0] = 0; return; }
  }
}

/* the selftests' __auxiliary programs: loaded with each program (as test_loader does), since a
 * prog array of the object may name them in its initial slots */
static char **aux;
static int naux;
static int isAux(const char *name) {
  for (int i = 0; i < naux; i++)
    if (!strcmp(aux[i], name)) return 1;
  return 0;
}

/** loadAlone opens OBJ, loads only program number IDX with the log level given; 0 or -errno. */
static int loadAlone(const char *path, int idx, int level, char *name, size_t nsize, char *type, size_t tsize, int *fdOut,
                     struct bpf_object **objOut) {
  struct bpf_object *obj = bpf_object__open_file(path, NULL);
  if (!obj) return -errno ? -errno : -EINVAL;
  struct bpf_program *p, *me = NULL;
  int i = 0;
  bpf_object__for_each_program(p, obj) {
    bpf_program__set_autoload(p, i == idx || isAux(bpf_program__name(p)));
    if (i == idx) me = p;
    i++;
  }
  if (!me) { bpf_object__close(obj); return -ENOENT; }
  snprintf(name, nsize, "%s", bpf_program__name(me));
  const char *t = libbpf_bpf_prog_type_str(bpf_program__type(me));
  snprintf(type, tsize, "%s", t ? t : "unknown");
  vlog[0] = 0;
  plen = 0;
  plog[0] = 0;
  if (level) {
    bpf_program__set_log_buf(me, vlog, sizeof(vlog));
    bpf_program__set_log_level(me, level);
  }
  int err = bpf_object__load(obj);
  *fdOut = err ? -1 : bpf_program__fd(me);
  *objOut = obj;
  return err;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: kload OBJ [RUNPROG...] [-a AUXPROG...]\n"); return 2; }
  int nrun = argc - 2;
  for (int a = 2; a < argc; a++)
    if (!strcmp(argv[a], "-a")) {
      nrun = a - 2;
      aux = argv + a + 1;
      naux = argc - a - 1;
      break;
    }
  libbpf_set_print(capture);
  struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
  if (!obj) { printf("-\t-\tloader\t%d\t-\tcannot open object: %s\n", errno, strerror(errno)); return 0; }
  int count = 0;
  struct bpf_program *p;
  bpf_object__for_each_program(p, obj) count++;
  bpf_object__close(obj);
  static char msg[4096];
  for (int i = 0; i < count; i++) {
    char name[256], type[64];
    int fd;
    struct bpf_object *o = NULL;
    int err = loadAlone(argv[1], i, 0, name, sizeof(name), type, sizeof(type), &fd, &o);
    const char *stage = "ok";
    msg[0] = 0;
    char retval[32] = "-";
    if (!err) {
      for (int a = 2; a < 2 + nrun; a++) {
        if (strcmp(argv[a], name)) continue;
        unsigned char in[64] = {0}, out[256] = {0};
        LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = in, .data_size_in = sizeof(in), .data_out = out, .data_size_out = sizeof(out),
                    .repeat = 1);
        if (bpf_prog_test_run_opts(fd, &topts)) snprintf(retval, sizeof(retval), "E%d", errno);
        else snprintf(retval, sizeof(retval), "%u", topts.retval);
      }
    } else {
      int kernelSaw = strstr(plog, "BPF program load failed") != NULL || strstr(plog, "failed to load program") != NULL;
      stage = kernelSaw ? "verifier" : "loader";
      if (kernelSaw) {
        /* again with the log: the kernel keeps the log's tail (rotating), which holds the reason */
        bpf_object__close(o);
        int fd2;
        loadAlone(argv[1], i, 1, name, sizeof(name), type, sizeof(type), &fd2, &o);
        lastLine(vlog, msg, sizeof(msg));
        if (!msg[0]) libbpfLine(plog, msg, sizeof(msg));
      } else {
        libbpfLine(plog, msg, sizeof(msg));
      }
    }
    printf("%s\t%s\t%s\t%d\t%s\t%s\n", name, type, stage, err ? -err : 0, retval, msg);
    fflush(stdout);
    bpf_object__close(o);
  }
  return 0;
}
