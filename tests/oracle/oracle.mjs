// The independent oracle of tests/oracle.rs: @cloud-copilot/iam-simulate (AGPL-3.0-or-later; a
// test tool only, never shipped, never a dependency of keyproof) behind one long-running process.
//
// Protocol: one JSON object per line on stdin, `{"id": N, "simulation": <iam-simulate Simulation>}`;
// one JSON object per line on stdout, in the same order, `{"id": N, "result": "Allowed" |
// "ExplicitlyDenied" | "ImplicitlyDenied", "ignoredContextKeys": [...]}` or `{"id": N, "error": ...}`.
// With `"verbose": true` the answer is `{"id": N, "response": <the whole RunSimulationResults>}`,
// for a person reading a divergence. The first line printed is `{"ready": VERSION}`, so the caller knows the package loaded.
import { runSimulation } from '@cloud-copilot/iam-simulate'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

const manifest = new URL('./node_modules/@cloud-copilot/iam-simulate/package.json', import.meta.url)
const { version } = JSON.parse(readFileSync(manifest, 'utf8'))

const write = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

write({ ready: version })
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (line.trim() === '') continue
  let id = null
  try {
    const msg = JSON.parse(line)
    id = msg.id
    const response = await runSimulation(msg.simulation, { simulationMode: 'Strict' })
    if (msg.verbose) {
      write({ id, response })
    } else if (response.resultType === 'error') {
      write({ id, error: response.errors })
    } else if (response.resultType === 'single') {
      write({ id, result: response.overallResult, ignoredContextKeys: response.result.ignoredContextKeys ?? [] })
    } else {
      write({ id, result: response.overallResult, ignoredContextKeys: [], wildcard: true })
    }
  } catch (e) {
    write({ id, error: String(e && e.stack ? e.stack : e) })
  }
}
