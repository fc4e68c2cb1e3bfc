// Scores http-cache-tests results the way the suite itself does.
//
//   node score.mjs --suite DIR --results FILE [--name NAME] [--peers]
//   node score.mjs --suite DIR --peers
//
// DIR is the installed package (node_modules/http-cache-tests). The
// classification is the suite's own, read from its files, not copied here:
//
// - the tests are those its CLI runs (cli.mjs): tests/index.mjs plus
//   tests/surrogate-control.mjs, less the browser_only ones, which
//   client/runner.mjs skips for anything but a browser cache;
// - a test is required when its kind is "required" or unset, optimal when
//   "optimal" ("check" tests only gather information: never counted);
// - a test passes when lib/display.mjs determineTestResult, with its
//   dependencies honoured (the default, as on cache-tests.fyi), gives ✅.
//   A setup failure (🔹), a failed dependency (⚪️), a retry (↻) or a missing
//   result (-) is not a pass.
//
// With --results it prints one line, "http-cache-tests: P/R required passed
// (optimal p/o)", then each failing required test with its recorded result,
// and writes nothing else to stdout. With --peers it prints the same score
// for every reverse proxy and CDN whose results the package publishes
// (results/index.mjs), best first; with both, a last line compares the
// score with the best published reverse proxy's. Exit 2 on a usage or input
// error.
import fs from 'fs'
import path from 'path'
import { pathToFileURL } from 'url'

function usage (msg) {
  if (msg) console.error(`score.mjs: ${msg}`)
  console.error('usage: node score.mjs --suite DIR [--results FILE] [--name NAME] [--peers]')
  process.exit(2)
}

const args = { peers: false }
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  const next = () => {
    if (i + 1 >= process.argv.length) usage(`${a} needs a value`)
    return process.argv[++i]
  }
  if (a === '--suite') args.suite = next()
  else if (a === '--results') args.results = next()
  else if (a === '--name') args.name = next()
  else if (a === '--peers') args.peers = true
  else usage(`unknown argument ${a}`)
}
if (!args.suite) usage('--suite is required')
if (!args.results && !args.peers) usage('give --results FILE, --peers, or both')

const suiteDir = path.resolve(args.suite)
const load = async rel => (await import(pathToFileURL(path.join(suiteDir, rel)).href))
const pkg = JSON.parse(fs.readFileSync(path.join(suiteDir, 'package.json'), 'utf8'))
const suites = [...(await load('tests/index.mjs')).default]
suites.push((await load('tests/surrogate-control.mjs')).default) // as cli.mjs does
const display = await load('lib/display.mjs')

// The tests the CLI runs against a proxy, by kind.
const run = []
for (const suite of suites) {
  for (const test of suite.tests) {
    if (test.browser_only === true) continue // client/runner.mjs skips them
    run.push(test)
  }
}
const kindOf = test => test.kind === undefined ? 'required' : test.kind
for (const test of run) {
  if (!['required', 'optimal', 'check'].includes(kindOf(test))) {
    console.error(`score.mjs: test ${test.id} has unknown kind ${test.kind}`)
    process.exit(2)
  }
}

function score (results) {
  const s = { required: 0, requiredPassed: 0, optimal: 0, optimalPassed: 0, failing: [], missing: 0 }
  for (const test of run) {
    const kind = kindOf(test)
    if (kind === 'check') continue
    const symbol = display.determineTestResult(suites, test.id, results)[2]
    const passed = symbol === '✅'
    if (results[test.id] === undefined) s.missing++
    if (kind === 'required') {
      s.required++
      if (passed) s.requiredPassed++
      else s.failing.push({ id: test.id, symbol, result: results[test.id] })
    } else {
      s.optimal++
      if (passed) s.optimalPassed++
    }
  }
  return s
}

const line = s => `${s.requiredPassed}/${s.required} required passed (optimal ${s.optimalPassed}/${s.optimal})`

let ours = null
if (args.results) {
  let results
  try {
    results = JSON.parse(fs.readFileSync(args.results, 'utf8'))
  } catch (err) {
    console.error(`score.mjs: ${args.results} is not the suite's JSON results: ${err.message}`)
    process.exit(2)
  }
  if (results === null || typeof results !== 'object' || Array.isArray(results)) {
    console.error(`score.mjs: ${args.results} is not a JSON object of results`)
    process.exit(2)
  }
  const s = score(results)
  ours = s
  if (s.missing > 0) {
    console.error(`score.mjs: ${s.missing} of the suite's required and optimal tests have no result in ${args.results}`)
  }
  console.log(`${args.name || 'http-cache-tests'}: ${line(s)}`)
  if (s.failing.length) {
    console.log(`failing required tests (${s.failing.length}):`)
    for (const f of s.failing) {
      console.log(`  ${f.symbol} ${f.id}  ${JSON.stringify(f.result === undefined ? null : f.result)}`)
    }
  }
}

if (args.peers) {
  const index = (await load('results/index.mjs')).default
  const rows = []
  for (const item of index) {
    if (item.type === 'browser') continue // browsers run other tests
    const results = JSON.parse(fs.readFileSync(path.join(suiteDir, 'results', item.file), 'utf8'))
    rows.push({ item, s: score(results) })
  }
  rows.sort((a, b) => b.s.requiredPassed - a.s.requiredPassed)
  console.log(`published results in http-cache-tests ${pkg.version}, scored the same way:`)
  for (const { item, s } of rows) {
    const who = `${item.name} ${item.version}`
    console.log(`  ${who.padEnd(26)} ${item.type.padEnd(9)} ${line(s)}${s.missing ? ` (${s.missing} untested)` : ''}`)
  }
  const best = rows.find(r => r.item.type === 'rev-proxy')
  if (ours && best) {
    const d = ours.requiredPassed - best.s.requiredPassed
    console.log(`${args.name || 'http-cache-tests'}: ${ours.requiredPassed} required passed; best published reverse proxy: ${best.item.name} ${best.item.version} ${best.s.requiredPassed} (${d >= 0 ? '+' : ''}${d})`)
  }
}
