#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runConformanceDir } from './conformance.js';
import { engineByName } from './engines.js';

await yargs(hideBin(process.argv))
  .scriptName('bpfbox')
  .command(
    'conformance <dir>',
    'run every .data vector of an eBPF conformance directory (or one .data file)',
    (y) =>
      y
        .positional('dir', { type: 'string', demandOption: true, describe: 'directory of .data files' })
        .option('engine', { choices: ['interpreter'] as const, default: 'interpreter' as const })
        .option('json', { alias: 'j', type: 'boolean', default: false })
        .option('trace', { type: 'boolean', default: false, describe: 'print each executed instruction and the registers it changed' }),
    (argv) => {
      const trace = argv.trace ? (line: string) => console.log(line) : undefined;
      const report = runConformanceDir(argv.dir, engineByName(argv.engine), { trace });
      if (argv.json) {
        const { outcomes: _outcomes, ...rest } = report;
        console.log(JSON.stringify(rest));
      } else {
        for (const f of report.failures) console.log(`FAIL ${f.file}: expected ${f.expected}, got ${f.got}`);
        for (const s of report.skipped) console.log(`SKIP ${s.file}: ${s.reason}`);
        console.log(`engine ${report.engine}: ${report.passed} passed, ${report.failed} failed, ${report.skipped.length} skipped`);
      }
      process.exitCode = report.failed > 0 ? 1 : 0;
    },
  )
  .demandCommand(1)
  .strict()
  .help()
  .parseAsync();
