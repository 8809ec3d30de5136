//! The object's wire encoding (`Object::to_bytes`).

use std::cell::RefCell;

use flatbuffers::FlatBufferBuilder;

use super::Object;
use crate::record::{lineage_to_wire, string_vector};
use crate::{Originator, json as cjson, wire};

thread_local! {
    /// One reusable builder per thread for whole objects: a visit's encoding writes into
    /// memory the last one used, instead of pages the allocator must get (and zero)
    /// again. Kept up to [`KEPT_OBJECT_BUILDER`] bytes.
    static OBJECT_BUILDER: RefCell<Option<FlatBufferBuilder<'static>>> = const { RefCell::new(None) };
}

/// The largest object builder a thread keeps between encodings (larger ones are freed).
const KEPT_OBJECT_BUILDER: usize = 8 << 20;

impl Object {
    /// Encodes the object, with `plan` written in place of the intent's text when given
    /// (only [`crate::forge`] does that).
    pub(crate) fn to_bytes_with_plan(&self, plan: Option<&str>) -> Vec<u8> {
        let size: usize = self.memory.iter().map(|r| r.bytes.len() + 96).sum::<usize>()
            + self.intent.canonical_text().len()
            + self.data_text().len()
            + self.results.iter().map(|c| c.result.len() + 48).sum::<usize>()
            + 1024;
        let kept = OBJECT_BUILDER.with(|b| b.borrow_mut().take());
        let mut fbb = match kept {
            Some(mut b) => {
                b.reset();
                b
            }
            None => FlatBufferBuilder::with_capacity(size),
        };
        let bytes = self.encode_into(&mut fbb, plan);
        if bytes.len() <= KEPT_OBJECT_BUILDER {
            OBJECT_BUILDER.with(|b| *b.borrow_mut() = Some(fbb));
        }
        bytes
    }

    fn encode_into(&self, fbb: &mut FlatBufferBuilder<'static>, plan: Option<&str>) -> Vec<u8> {
        let entries: Vec<_> = self
            .memory
            .iter()
            .map(|r| {
                let bytes = fbb.create_vector(&r.bytes[..]);
                let signature = r.signature.as_ref().map(|s| fbb.create_vector(&s.0));
                wire::RecordEntry::create(fbb, &wire::RecordEntryArgs { bytes: Some(bytes), signature })
            })
            .collect();
        let memory = fbb.create_vector(&entries);

        let plan = fbb.create_string(plan.unwrap_or(self.intent.canonical_text()));
        let origin = self.origin.as_deref().map(|o| fbb.create_string(o));
        let objective = self.intent.objective().map(|s| fbb.create_string(s));
        let class = self.intent.class().map(|s| fbb.create_string(s));
        let c = self.intent.constraints();
        let constraints = if *c == crate::Constraints::default() {
            None
        } else {
            let allowed_domains = c.allowed_domains.as_ref().map(|d| {
                let offs: Vec<_> = d.iter().map(|s| fbb.create_string(s)).collect();
                fbb.create_vector(&offs)
            });
            Some(wire::Constraints::create(
                fbb,
                &wire::ConstraintsArgs {
                    deadline_ms: c.deadline_ms,
                    max_hops: c.max_hops,
                    max_records: c.max_records,
                    allowed_domains,
                },
            ))
        };
        let intent = wire::Intent::create(
            fbb,
            &wire::IntentArgs {
                revision: self.intent.revision(),
                objective,
                class,
                constraints,
                plan: Some(plan),
                origin,
            },
        );

        let ctx = &self.context;
        let originator = {
            let o = &ctx.originator;
            if *o == Originator::default() {
                None
            } else {
                let subject = o.subject.as_deref().map(|s| fbb.create_string(s));
                let domain = o.domain.as_deref().map(|s| fbb.create_string(s));
                let key = o.key.map(|k| fbb.create_vector(&k.0));
                Some(wire::Originator::create(fbb, &wire::OriginatorArgs { subject, domain, key }))
            }
        };
        let labels = string_vector(fbb, ctx.labels());
        let policy_refs = string_vector(fbb, ctx.policy_refs());
        let attributes = Some(fbb.create_string(&cjson::canonical(ctx.attributes())));
        let policies = if ctx.policies().is_empty() {
            None
        } else {
            let offs: Vec<_> = ctx
                .policies()
                .iter()
                .map(|p| {
                    let id = fbb.create_string(&p.id);
                    let text = fbb.create_string(&p.text);
                    wire::CarriedPolicy::create(fbb, &wire::CarriedPolicyArgs { id: Some(id), text: Some(text) })
                })
                .collect();
            Some(fbb.create_vector(&offs))
        };
        let context =
            wire::Context::create(fbb, &wire::ContextArgs { originator, labels, attributes, policies, policy_refs });

        let id = fbb.create_vector(&self.id.0);
        let lineage = lineage_to_wire(fbb, &self.lineage);
        let state = (!self.state.is_empty()).then(|| fbb.create_string(&self.state));
        let data = fbb.create_string(self.data_text());
        let head = fbb.create_vector(&self.stored_head.0);
        let results = (!self.results.is_empty()).then(|| fbb.create_vector(&crate::results::pack(&self.results)));
        let variables = (!self.variables.is_empty()).then(|| fbb.create_string(self.variables_text()));
        let root = wire::Object::create(
            fbb,
            &wire::ObjectArgs {
                format_version: self.version,
                id: Some(id),
                lineage: Some(lineage),
                status: self.status.to_wire(),
                state,
                intent: Some(intent),
                context: Some(context),
                memory: Some(memory),
                data: Some(data),
                head: Some(head),
                results,
                variables,
            },
        );
        fbb.finish(root, Some(wire::FILE_IDENTIFIER));
        fbb.finished_data().to_vec()
    }
}
