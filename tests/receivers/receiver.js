// A webhook receiver that verifies every delivery with the Standard Webhooks library.
//
//     npm install standardwebhooks
//     IDV_WEBHOOK_SECRET=whsec_... node receiver.js 3000
//
// Prints one JSON line per delivery ({"verified": true, "id": ..., "type": ...}) and answers
// 204 to a verified one, 400 otherwise. The test suite runs it against real deliveries.
const http = require("node:http");
const { Webhook } = require("standardwebhooks");

const webhook = new Webhook(process.env.IDV_WEBHOOK_SECRET);

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    // Verify the raw bytes: re-serialised JSON would not match the signature.
    const body = Buffer.concat(chunks).toString("utf8");
    try {
      const payload = webhook.verify(body, req.headers);
      // webhook-id is the event id: the same on every retry and replay, so dedupe on it.
      console.log(JSON.stringify({ verified: true, id: req.headers["webhook-id"], type: payload.data.attributes.type }));
      res.writeHead(204).end();
    } catch (e) {
      console.log(JSON.stringify({ verified: false }));
      res.writeHead(400).end();
    }
  });
});

server.listen(Number(process.argv[2]), "127.0.0.1", () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
