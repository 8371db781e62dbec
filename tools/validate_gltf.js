// Validate a .glb with the Khronos glTF validator (npm: gltf-validator); prints its JSON report.
// Usage: node tools/validate_gltf.js FILE.glb   (NODE_PATH must reach the installed gltf-validator)
const fs = require("fs");
const validator = require("gltf-validator");
const file = process.argv[2];
validator
  .validateBytes(new Uint8Array(fs.readFileSync(file)), { uri: file, maxIssues: 100 })
  .then((report) => { console.log(JSON.stringify(report)); })
  .catch((error) => { console.error(String(error)); process.exit(2); });
