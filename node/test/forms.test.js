// The JSON forms against their JSON Schema (schema/forms.schema.json, generated from
// core/src/forms/): the TypeScript declarations in peo.d.ts have exactly the schema's
// fields in camelCase, and what this package returns (records, dispositions,
// verification reports) is, once `peo.canonical` gives it its snake_case keys back, valid
// against it.
'use strict'
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const ts = require('typescript')
const Ajv2020 = require('ajv/dist/2020')
const peo = require(require('./package'))

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../schema/forms.schema.json'), 'utf8'))
const defs = schema.$defs

const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase())

/** The keys a form may have in Node (a tagged union: the keys of any of its variants). */
function properties(name) {
  const form = defs[name]
  const variants = form.oneOf || form.anyOf || [form]
  return new Set(variants.flatMap((v) => Object.keys(v.properties || {})).map(camel))
}

const source = ts.createSourceFile('peo.d.ts', fs.readFileSync(path.join(require('./package'), 'peo.d.ts'), 'utf8'), ts.ScriptTarget.Latest)
const declared = new Map()
source.forEachChild((node) => {
  if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) declared.set(node.name.text, node)
})

/** The member names of an object type, or of every object type in a union (null dropped). */
function members(type) {
  if (ts.isTypeLiteralNode(type) || ts.isInterfaceDeclaration(type)) return type.members.map((m) => m.name.text)
  if (ts.isUnionTypeNode(type)) return type.types.flatMap((t) => members(t))
  if (ts.isParenthesizedTypeNode(type)) return members(type.type)
  if (ts.isArrayTypeNode(type)) return members(type.elementType)
  if (ts.isTypeReferenceNode(type) && type.typeArguments) return members(type.typeArguments[0])
  return []
}

function declaredKeys(name) {
  const node = declared.get(name)
  assert.ok(node, `peo.d.ts declares ${name}`)
  return new Set(members(ts.isTypeAliasDeclaration(node) ? node.type : node))
}

function memberType(name, member) {
  return declared.get(name).members.find((m) => m.name.text === member).type
}

test('the TypeScript declarations have the schema fields', () => {
  for (const [type, form] of [
    ['Record', 'Record'],
    ['Disposition', 'Disposition'],
    ['VerifyReport', 'VerifyReport'],
    ['Event', 'Event'],
    ['Proposal', 'Proposal'],
    ['PrunedProof', 'PrunedProof'],
  ]) {
    assert.deepEqual(declaredKeys(type), properties(form), `peo.d.ts ${type} differs from the schema's ${form}`)
  }
  for (const [type, member, form] of [
    ['Record', 'node', 'Node'],
    ['Record', 'policy', 'Policy'],
    ['VerifyReport', 'signers', 'Signer'],
    ['VerifyReport', 'checkpoint', 'Checkpoint'],
    ['VerifyReport', 'broken', 'Broken'],
  ]) {
    assert.deepEqual(new Set(members(memberType(type, member))), properties(form), `${type}.${member} differs from ${form}`)
  }
})

test('what Node returns is valid against the schema', () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, logger: false }).addSchema(schema)
  const validator = (name) => ajv.getSchema(`${schema.$id}#/$defs/${name}`)
  const check = (name, value) => {
    const validate = validator(name)
    const canonical = peo.canonical(name, value)
    assert.ok(validate(canonical), `${name}: ${JSON.stringify(validate.errors)}`)
    assert.deepEqual(new Set(Object.keys(value)), new Set(Object.keys(canonical).map(camel)), `${name} is camelCase`)
  }
  const plan = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  return node.visit(peo.Object.create(plan, { input: { x: 1 } })).then((visit) => {
    check('Disposition', visit.disposition)
    for (const record of visit.records) check('Record', record)
    check('VerifyReport', visit.object.verify({ trust: 'any' }))
    const record = peo.canonical('Record', visit.records[0])
    assert.equal(validator('Record')({ ...record, action: 'fly' }), false, 'a record with an unknown action is refused')
  })
})

test('only the declared keys are camelCase: payloads keep theirs', async () => {
  const plan = {
    StartAt: 'Wait',
    States: {
      Wait: { Type: 'Wait', Seconds: 5, Next: 'Work' },
      Work: { Type: 'Task', Resource: 'work', Assign: { my_var: 1 }, End: true },
    },
  }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any', nowMs: 1_000 })
  node.handle('work', (input) => ({ out_key: { inner_key: input.in_key } }))
  const first = await node.visit(peo.Object.create(plan, { input: { in_key: 7 }, nowMs: 1_000 }))
  assert.deepEqual(first.disposition, { kind: 'dormant', reason: 'wait', atMs: 6_000, event: null, timeoutAtMs: null })
  assert.equal(first.object.memory[0].body.input.in_key, 7)
  assert.equal(first.records.at(-1).body.wakeAtMs, 6_000)
  node.advanceClock(5_000)
  const second = await node.visit(first.bytes)
  const work = second.records.find((r) => r.action === 'execute')
  assert.deepEqual(work.body.output, { out_key: { inner_key: 7 } })
  assert.match(work.body.idempotencyKey, /\/Work\//)
  assert.deepEqual(work.assigned, { my_var: 1 })
  assert.equal(typeof work.nextState, 'string')
  assert.deepEqual(second.disposition.output, { out_key: { inner_key: 7 } })
  // canonical gives the snake_case form back, and refuses what is not a form.
  assert.equal(peo.canonical('Record', work).body.idempotency_key, work.body.idempotencyKey)
  assert.deepEqual(peo.canonical('Record', work).body.output, { out_key: { inner_key: 7 } })
  assert.throws(() => peo.canonical('Recrod', work), (e) => e instanceof peo.InvalidArgumentError && e.field === 'form')
  assert.throws(() => peo.canonical('Record'), TypeError)
  // A visit as JSON is camelCase throughout: the object by its summary, not its dump.
  const json = JSON.parse(JSON.stringify(second))
  assert.deepEqual(json.object, {
    id: second.object.id,
    status: 'succeeded',
    state: second.object.state,
    head: second.object.head,
    length: second.object.length,
  })
  assert.deepEqual(Object.keys(json).sort(), ['appended', 'disposition', 'object', 'records'])
  const keys = []
  const payloads = new Set(['input', 'output', 'assigned'])
  const walk = (v, inPayload) => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, inPayload))
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (!inPayload) keys.push(k)
        walk(x, inPayload || payloads.has(k))
      }
    }
  }
  walk(json, false)
  assert.deepEqual(keys.filter((k) => k.includes('_')), [], 'no snake_case key outside the payloads')
  assert.ok(keys.includes('nextState') && keys.includes('timeMs'))
})
