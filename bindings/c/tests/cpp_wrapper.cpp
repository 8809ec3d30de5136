// include/peo.hpp from C++: RAII handles, lambda handlers (a named TaskFailed and a plain
// std::exception both recorded as the attempt's error, caught by the plan), a signed
// visit verified against the key, and a failed call as a peo::Error with its code.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "peo.hpp"

static int fail(const char *what, const std::string &detail) {
  std::fprintf(stderr, "cpp: %s: %s\n", what, detail.c_str());
  return 1;
}

int main() {
  const std::string plan = R"({"StartAt": "Square", "States": {
      "Square": {"Type": "Task", "Resource": "math.square", "ResultPath": "$.result", "Next": "Busy"},
      "Busy": {"Type": "Task", "Resource": "math.busy", "Next": "Risky",
               "Catch": [{"ErrorEquals": ["Math.Busy"], "ResultPath": "$.busy", "Next": "Risky"}]},
      "Risky": {"Type": "Task", "Resource": "math.risky", "End": true,
                "Catch": [{"ErrorEquals": ["std::domain_error"], "ResultPath": "$.caught", "Next": "Done"}]},
      "Done": {"Type": "Succeed"}}})";
  peo::SigningKey key = peo::SigningKey::generate();
  PeoCreateOptions signed_by_originator{nullptr, 0, key.get()};
  peo::Object object = peo::Object::create(plan, "", R"({"n": 12})", &signed_by_originator);
  peo::Bytes bytes = object.to_bytes();

  int squares = 0;
  peo::Node node("cpp-node", "lab");
  node.trust("\"any\"")
      .key(key)
      .handler("math.square",
               [&squares](const PeoCall &call) {
                 squares++;
                 return std::string(R"({"square": 144, "input_was": )") + call.input_json + "}";
               })
      .handler("math.busy", [](const PeoCall &) -> std::string { throw peo::TaskFailed("Math.Busy", "try later"); })
      .handler("math.risky", [](const PeoCall &) -> std::string { throw std::domain_error("division by zero"); });

  peo::Visit visit = node.visit(bytes);
  peo::Object after = visit.object();
  std::string data = after.data_json();
  if (squares != 1 || after.status() != PEO_OBJECT_STATUS_SUCCEEDED || visit.disposition() != PEO_DISPOSITION_KIND_TERMINATED)
    return fail("unexpected result", data);
  for (const char *want : {R"("square":144)", R"("Error":"Math.Busy")", "division by zero", R"("Error":"std::domain_error")"})
    if (data.find(want) == std::string::npos) return fail(want, data);

  // The visit's records are signed by the node's key and verify against it.
  std::string report = peo::Object::from_bytes(visit.bytes()).verify({key.public_key()});
  if (report.find(R"("valid":true)") == std::string::npos || report.find(R"("trusted":true)") == std::string::npos)
    return fail("verify report", report);

  // A failed call is a peo::Error carrying the code and the error payload.
  try {
    peo::Bytes junk{'P', 'E', 'O', '1', 'j', 'u', 'n', 'k'};
    peo::Object::from_bytes(junk);
    return fail("junk", "decoded");
  } catch (const peo::Error &e) {
    if (e.status() != PEO_DECODE || std::string(e.code()) != "PEO_DECODE" ||
        e.details_json().find(R"("kind":"decode")") == std::string::npos)
      return fail("error", e.details_json());
  }
  std::printf("cpp: peo.hpp (%s): RAII handles, lambda handlers, errors as exceptions: %s %s\n",
              peo::version().c_str(), after.status_name().c_str(), data.c_str());
  return 0;
}
