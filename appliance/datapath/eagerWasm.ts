import { setFlagsFromString } from 'node:v8';

// eagerWasm: imported first by every worker entry (replay and live).
//
// A worker runs its program millions of times, so V8 compiles the WebAssembly here, before the
// worker says it is ready, and with its optimizing compiler: left to itself, V8 compiles a
// function on its first call with its baseline compiler and optimizes it on a helper thread
// once it is hot, part-way through the pass and on a core the other worker needs (with two
// workers on two cores the first pass ran at ~1.4x one worker's rate this way, ~1.8x after).
// V8's flags are the process's: Wasm compiled in this process later is compiled the same way.
setFlagsFromString('--no-liftoff');
setFlagsFromString('--no-wasm-lazy-compilation');
