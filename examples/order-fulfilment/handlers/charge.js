// payment.charge: the bank is busy on the first attempt (a transient failure the plan retries).
const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'))
if (process.env.PEO_ATTEMPT === '0') {
  process.stderr.write(JSON.stringify({ error: 'Bank.Busy', cause: 'try again in a second' }))
  process.exit(1)
}
process.stdout.write(JSON.stringify({ charged: input.amount, currency: 'EUR', attempt: Number(process.env.PEO_ATTEMPT) }))
