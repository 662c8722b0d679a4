// Reads solc standard-JSON input on stdin, writes the compiler's output on stdout.
// Run by devnets/evm/compile.py with NODE_PATH pointing at the pinned node_modules.
const solc = require("solc");
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const output = JSON.parse(solc.compile(input));
  output.compilerVersion = solc.version();
  process.stdout.write(JSON.stringify(output));
});
