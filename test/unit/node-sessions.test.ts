// The leader's rule for two agents with one node identity (src/manager/sessions.ts): the holder
// keeps the node while it is heard from; a newcomer takes it over only once the holder has been
// silent for staleMs, and the old one is refused then; a new term forgets every session.
import t from 'tap';
import { NodeSessions } from '../../src/manager/sessions.js';

t.test('one agent per node, by session', async (t) => {
  const s = new NodeSessions(2000);
  t.equal(s.claim('n1', 'A', 5, 0), null, 'the first session heard from holds the node');
  t.equal(s.claim('n1', 'A', 5, 1000), null, 'and renews it');
  t.same(s.claim('n1', 'B', 5, 1500), { heardMsAgo: 500, retryInMs: 1501 }, 'another session is refused while the holder is alive');
  t.equal(s.claim('n2', 'B', 5, 1500), null, 'another node is another matter');
  t.equal(s.claim('n1', undefined, 5, 1500), null, 'a request without a session is not checked');
  t.equal(s.claim('n1', 'A', 5, 3000), null, 'the holder, heard from every 2 s, keeps it');
  t.not(s.claim('n1', 'B', 5, 5000), null, 'the newcomer is refused at the edge of the window');
  t.equal(s.claim('n1', 'B', 5, 5001), null, 'after 2 s of silence the newcomer takes over');
  t.not(s.claim('n1', 'A', 5, 5100), null, 'and the old one, back, is refused');
  t.equal(s.claim('n1', 'A', 6, 5200), null, 'a new term (a new leader) adopts the first it hears from');
  t.not(s.claim('n1', 'B', 6, 5300), null, 'and refuses the other');
});
