#!/bin/sh
# An eager advisor: proposes ending the order before it is charged. Policy overrides it.
state=$(cat | sed -n 's/.*"state":"\([^"]*\)".*/\1/p')
if [ "$state" = "Charge" ] || [ "$state" = "ByAmount" ]; then
  echo '{"action": "terminate", "confidence": 0.9, "rationale": "stock is low; cancel"}'
fi
