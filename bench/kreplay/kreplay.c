// kreplay: the kernel's side of the replay benchmark. It loads a BPF object with libbpf and
// runs every packet of a classic pcap through one program with one BPF_PROG_TEST_RUN each
// (as a userspace replay into the kernel would), then prints packets, seconds and verdicts
// as JSON. Usage: kreplay OBJ PROG FILE.pcap   (root, or CAP_BPF + CAP_NET_ADMIN)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct pcap_hdr { uint32_t magic; uint16_t major, minor; int32_t zone; uint32_t sigfigs, snaplen, linktype; };
struct rec_hdr { uint32_t sec, frac, caplen, len; };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct pcap_hdr fh;
	struct rec_hdr rh;
	static unsigned char pkt[262144], out[262144 + 4096];
	unsigned long verdicts[8] = { 0 }, packets = 0, other = 0, errors = 0;
	double t0, t;
	FILE *f;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s OBJ PROG FILE.pcap\n", argv[0]);
		return 2;
	}
	libbpf_set_print(NULL);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "%s: cannot open\n", argv[1]);
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "%s: load failed: %s\n", argv[1], strerror(errno));
		return 1;
	}
	prog = bpf_object__find_program_by_name(obj, argv[2]);
	if (!prog) {
		fprintf(stderr, "%s: no program %s\n", argv[1], argv[2]);
		return 1;
	}
	fd = bpf_program__fd(prog);
	f = fopen(argv[3], "rb");
	if (!f || fread(&fh, sizeof(fh), 1, f) != 1 || (fh.magic != 0xa1b2c3d4 && fh.magic != 0xa1b23c4d)) {
		fprintf(stderr, "%s: not a little-endian classic pcap\n", argv[3]);
		return 1;
	}
	t0 = now();
	while (fread(&rh, sizeof(rh), 1, f) == 1) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = rh.caplen, .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

		if (rh.caplen > sizeof(pkt) || fread(pkt, 1, rh.caplen, f) != rh.caplen)
			break;
		packets++;
		if (bpf_prog_test_run_opts(fd, &opts)) {
			errors++;
			continue;
		}
		if (opts.retval < 8)
			verdicts[opts.retval]++;
		else
			other++;
	}
	t = now() - t0;
	printf("{\"packets\": %lu, \"seconds\": %.6f, \"errors\": %lu, \"verdicts\": {", packets, t, errors);
	for (int i = 0, first = 1; i < 8; i++)
		if (verdicts[i]) {
			printf("%s\"%d\": %lu", first ? "" : ", ", i, verdicts[i]);
			first = 0;
		}
	printf("}, \"other\": %lu}\n", other);
	fclose(f);
	bpf_object__close(obj);
	return 0;
}
