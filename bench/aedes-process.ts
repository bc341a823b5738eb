/**
 * aedes, the MQTT peer written in Node, in a process of its own so that its
 * CPU is its own: the default in-memory persistence (nothing on disk), one
 * TCP listener on 127.0.0.1, port 0, TCP_NODELAY on every socket. Tells the parent its port and version.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer((socket) => {
  // As zapwire's listener does (src/server/main-thread/connection.ts): no Nagle delay on small frames.
  socket.setNoDelay(true);
  broker.handle(socket);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // `version` is a getter of the class (aedes.js) that its types leave out.
  process.send!({ t: 'ready', port, version: (broker as unknown as { version: string }).version });
});
// The parent going away must not leave a broker behind.
process.on('disconnect', () => process.exit(0));
