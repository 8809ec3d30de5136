// The JSON forms against their JSON Schema (schema/forms.schema.json, generated from
// core/src/forms.rs): the TypeScript declarations in peo.d.ts have exactly the schema's
// fields, and what this package returns (records, dispositions, verification reports)
// is valid against it.
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

/** The keys a form may have (a tagged union: the keys of any of its variants). */
function properties(name) {
  const form = defs[name]
  const variants = form.oneOf || form.anyOf || [form]
  return new Set(variants.flatMap((v) => Object.keys(v.properties || {})))
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
    assert.ok(validate(value), `${name}: ${JSON.stringify(validate.errors)}`)
  }
  const plan = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }
  const node = new peo.Node({ id: 'n', domain: 'd', trust: 'any' })
  return node.visit(peo.Object.create(plan, { input: { x: 1 } })).then((visit) => {
    check('Disposition', visit.disposition)
    for (const record of visit.records) check('Record', record)
    check('VerifyReport', visit.object.verify({ trust: 'any' }))
    assert.equal(validator('Record')({ ...visit.records[0], action: 'fly' }), false, 'a record with an unknown action is refused')
  })
})
