// Reads {"secret", "messages": [{"id","timestamp","body","signature"}], "sign": {"id","timestamp","body"}}
// on stdin. Verifies each message with the reference Standard Webhooks
// library (true/false per message) and signs "sign" with it, so the Go side
// can check both directions. Prints {"verified": [...], "signature": "..."}.
import { Webhook } from "standardwebhooks";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const req = JSON.parse(input);
const wh = new Webhook(req.secret);
const verified = req.messages.map((m) => {
  try {
    wh.verify(m.body, {
      "webhook-id": m.id,
      "webhook-timestamp": m.timestamp,
      "webhook-signature": m.signature,
    });
    return true;
  } catch (e) {
    return String(e && e.message ? e.message : e);
  }
});
const s = req.sign;
const signature = wh.sign(s.id, new Date(Number(s.timestamp) * 1000), s.body);
process.stdout.write(JSON.stringify({ verified, signature }));
