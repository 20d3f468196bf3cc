// Two (or three) people chatting through the page the gateway serves.

import { PHONE, expect, lowestContrast, test, type User } from './fixtures';

/** Alice and Bob signed in, with a direct chat alice opened. */
async function pair(users: import('./fixtures').Users): Promise<[User, User]> {
  const alice = await users.open('alice');
  const bob = await users.open('bob');
  await alice.startDirect('bob');
  return [alice, bob];
}

test('a message goes from sent to delivered to read', async ({ users }) => {
  const alice = await users.open('alice');
  await alice.startDirect('bob');
  await alice.send('hi bob');
  const mine = alice.message('hi bob');
  // Bob has no device yet: the send is durable, delivered to nobody.
  await expect(mine).toHaveAttribute('data-state', 'sent');
  await expect(mine).toHaveAttribute('data-seq', '1');

  const bob = await users.open('bob');
  // Bob's device got it: delivered to all, not read yet.
  await expect(mine).toHaveAttribute('data-state', 'delivered');
  await expect(bob.conversation('alice').getByTestId('unread-badge')).toHaveText('1');
  await expect(bob.conversation('alice').getByTestId('last-message')).toHaveText('hi bob');
  await alice.shot('ticks-1-delivered');

  await bob.open('alice');
  await expect(bob.message('hi bob')).toHaveCount(1);
  await expect(mine).toHaveAttribute('data-state', 'read');
  await expect(bob.conversation('alice').getByTestId('unread-badge')).toBeHidden();

  await bob.send('hello alice');
  await expect(alice.message('hello alice')).toHaveAttribute('data-mine', 'false');
  await expect(bob.message('hello alice')).toHaveAttribute('data-state', 'read');
  await alice.shot('ticks-2-read');
});

test('presence turns on and off, with last seen', async ({ users }) => {
  const [alice, bob] = await pair(users);
  const dot = alice.id('presence-dot');
  await expect(dot).toHaveAttribute('data-online', 'true');
  await expect(alice.id('last-seen')).toHaveText('online');
  await alice.shot('presence-online');

  await bob.context.close();
  await expect(dot).toHaveAttribute('data-online', 'false');
  await expect(alice.id('last-seen')).toHaveText(/^last seen today at \d\d:\d\d$/);
  await alice.shot('presence-last-seen');
});

test('privacy: last seen hidden from everyone, and the choices kept', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await expect(alice.id('last-seen')).toHaveText('online');

  // Bob hides his presence and keeps group adds to his contacts.
  await bob.id('privacy').click();
  const everyone = bob.id('privacy-presence-everyone');
  await expect(everyone).toBeChecked();
  await bob.id('privacy-presence-nobody').check();
  await bob.id('privacy-group_adds-contacts').check();
  await bob.id('privacy-save').click();
  await expect(bob.id('privacy-status')).toHaveText('Saved.');
  await bob.shot('privacy');

  // Alice, opening the page again, no longer sees him online or when.
  await alice.page.reload();
  await expect(alice.conn).toHaveAttribute('data-state', 'online');
  await expect(alice.id('chat-title')).toHaveText('bob');
  await expect(alice.id('presence-dot')).toHaveAttribute('data-online', 'false');
  await expect(alice.id('last-seen')).toHaveText('offline');

  // The server kept his choices: a reload reads them back.
  await bob.page.reload();
  await expect(bob.conn).toHaveAttribute('data-state', 'online');
  await bob.id('privacy').click();
  await expect(bob.id('privacy-presence-nobody')).toBeChecked();
  await expect(bob.id('privacy-group_adds-contacts')).toBeChecked();

  // Back to everyone: Alice sees him online again.
  await bob.id('privacy-presence-everyone').check();
  await bob.id('privacy-save').click();
  await expect(bob.id('privacy-status')).toHaveText('Saved.');
  await alice.page.reload();
  await expect(alice.id('last-seen')).toHaveText('online');
});

test('the typing indicator shows and goes', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await alice.send('are you there?');
  await bob.open('alice');
  await bob.id('composer-input').pressSequentially('yes, typing', { delay: 20 });
  await expect(alice.id('typing')).toHaveText('bob is typing…');
  await alice.shot('typing');
  await expect(alice.id('typing')).toBeHidden({ timeout: 8000 });
});

test('a reload resyncs without duplicates', async ({ users }) => {
  const [alice, bob] = await pair(users);
  for (const text of ['one', 'two', 'three']) await alice.send(text);
  await bob.open('alice');
  await expect(bob.messages()).toHaveCount(3);
  await bob.send('four');
  await expect(alice.messages()).toHaveCount(4);

  await bob.page.reload();
  await expect(bob.conn).toHaveAttribute('data-state', 'online');
  await expect(bob.id('chat-title')).toHaveText('alice');
  await expect(bob.messages()).toHaveCount(4);
  await alice.send('five');
  await expect(bob.messages()).toHaveCount(5);
  expect(await bob.seqs()).toEqual([1, 2, 3, 4, 5]);

  await alice.page.reload();
  await expect(alice.conn).toHaveAttribute('data-state', 'online');
  await expect(alice.messages()).toHaveCount(5);
  expect(await alice.seqs()).toEqual([1, 2, 3, 4, 5]);
  await expect(alice.message('five')).toHaveAttribute('data-state', 'read');
  await bob.shot('reload');
});

test('a send not yet acknowledged survives a reload and arrives once', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await bob.open('alice');
  // Alice's sends go nowhere for a while: the socket swallows them.
  let swallow = false;
  await alice.context.routeWebSocket(/\/v1\/ws/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      if (swallow && JSON.parse(String(frame)).type === 'send') return;
      server.send(frame);
    });
  });
  await alice.page.reload();
  await expect(alice.conn).toHaveAttribute('data-state', 'online');
  swallow = true;
  await alice.send('kept across a reload');
  const kept = alice.message('kept across a reload');
  await expect(kept).toHaveAttribute('data-state', 'pending');
  await expect(bob.messages()).toHaveCount(0);

  swallow = false;
  await alice.page.reload();
  await expect(kept).toHaveCount(1);
  await expect(kept).toHaveAttribute('data-state', 'read');
  await expect(kept).toHaveAttribute('data-seq', '1');
  await expect(bob.message('kept across a reload')).toHaveCount(1);
  await alice.send('and one more');
  await expect(bob.messages()).toHaveCount(2);
  expect(await bob.seqs()).toEqual([1, 2]);
});

test('the server restarted under the pages: they reconnect and lose nothing', async ({
  users,
  server,
}) => {
  const [alice, bob] = await pair(users);
  await alice.send('before the crash');
  await bob.open('alice');
  await bob.send('me too');
  await expect(alice.messages()).toHaveCount(2);

  users.outage = true;
  await server.kill();
  await expect(alice.conn).not.toHaveAttribute('data-state', 'online');
  await expect(bob.conn).not.toHaveAttribute('data-state', 'online');
  await alice.send('typed while the server was down');
  const pending = alice.message('typed while the server was down');
  await expect(pending).toHaveAttribute('data-state', 'pending');
  await alice.shot('restart-1-offline');

  await server.restart();
  await expect(alice.conn).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  await expect(bob.conn).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  users.outage = false;

  await expect(bob.message('typed while the server was down')).toHaveCount(1);
  await expect(pending).toHaveAttribute('data-state', 'read');
  await expect(pending).toHaveAttribute('data-seq', '3');
  await bob.send('got it');
  await expect(alice.messages()).toHaveCount(4);
  await expect(bob.messages()).toHaveCount(4);
  expect(await alice.seqs()).toEqual([1, 2, 3, 4]);
  expect(await bob.seqs()).toEqual([1, 2, 3, 4]);
  await alice.shot('restart-2-online');
});

test('a group shows read by n of m', async ({ users }) => {
  const alice = await users.open('alice');
  const bob = await users.open('bob');
  const carol = await users.open('carol');
  await alice.startGroup('Trip', ['bob', 'carol']);
  await alice.send('who is in?');
  const mine = alice.message('who is in?');
  await expect(mine.getByTestId('read-count')).toHaveText('read by 0 of 2');
  await expect(mine).toHaveAttribute('data-state', 'delivered');

  await bob.open('Trip');
  await expect(mine.getByTestId('read-count')).toHaveText('read by 1 of 2');
  await expect(mine).toHaveAttribute('data-state', 'delivered');
  await bob.send('me!');
  await expect(bob.message('me!').getByTestId('read-count')).toHaveText('read by 1 of 2');

  await carol.open('Trip');
  await expect(carol.message('me!').getByTestId('sender')).toHaveText('bob');
  await expect(mine.getByTestId('read-count')).toHaveText('read by 2 of 2');
  await expect(mine).toHaveAttribute('data-state', 'read');
  await alice.shot('group');
});

/** A real PNG: a screenshot of a corner of the page. */
async function png(user: User): Promise<Buffer> {
  return user.page.screenshot({ clip: { x: 0, y: 0, width: 360, height: 200 } });
}

test('image and file attachments show on the other side', async ({ users }) => {
  const [alice, bob] = await pair(users);
  const image = await png(alice);
  await alice.id('file-input').setInputFiles({ name: 'corner.png', mimeType: 'image/png', buffer: image });
  await expect(alice.id('staged-files')).toContainText('corner.png');
  await alice.send('a picture');
  const notes = Buffer.from('shopping list\n- milk\n- bread\n');
  await alice.id('file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: notes });
  await alice.id('send').click();

  await bob.open('alice');
  const picture = bob.message('a picture').getByTestId('attachment-image');
  await expect(picture).toBeVisible();
  await expect
    .poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBeGreaterThan(0);
  const file = bob.id('attachment-file');
  await expect(file).toContainText('Text file');
  const [download] = await Promise.all([bob.page.waitForEvent('download'), file.click()]);
  const path = await download.path();
  const { readFileSync } = await import('node:fs');
  expect(readFileSync(path).toString()).toBe(notes.toString());

  await bob.message('a picture').getByRole('button', { name: 'Open image' }).click();
  await expect(bob.id('lightbox').locator('img')).toBeVisible();
  await bob.shot('attachments-zoom');
  await bob.page.keyboard.press('Escape');
  await expect(bob.id('lightbox')).toBeHidden();
  await bob.shot('attachments');

  // Once the server made the thumbnail (320 px on the longest side), the
  // page shows it instead of the 360 px original.
  const id = await bob.message('a picture').getByTestId('attachment').getAttribute('data-attachment-id');
  const token = await users.server.token('bob', 'probe');
  await expect
    .poll(async () => (await users.server.http('GET', `/v1/attachments/${id}/info`, token)).thumbnail, {
      timeout: 20_000,
    })
    .toBe(true);
  await bob.page.reload();
  await expect
    .poll(() => picture.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(320);
});

test('history loads on scroll', async ({ users, server }) => {
  const alice = await server.token('alice', 'script');
  const { id: conv } = await server.http('POST', '/v1/conversations', alice, {
    kind: 'direct',
    members: ['bob'],
  });
  for (let i = 1; i <= 70; i++) {
    await server.http('POST', '/v1/messages', alice, {
      conv,
      client_msg_id: `m-${i}`,
      body: `message ${i}`,
    });
  }
  const bob = await users.open('bob');
  await expect(bob.conversation('alice').getByTestId('unread-badge')).toHaveText('70');
  // Bob's device took all 70 as its backlog; once it acknowledged them, a
  // reload holds none and the chat pages its history in from the server.
  await expect
    .poll(async () => {
      const { members } = await server.http('GET', `/v1/conversations/${conv}/receipts`, alice);
      return members.find((m: { user: string }) => m.user === 'bob')?.delivered_seq;
    })
    .toBe(70);
  await bob.page.reload();
  await expect(bob.conn).toHaveAttribute('data-state', 'online');
  await expect(bob.conversation('alice').getByTestId('unread-badge')).toHaveText('70');
  await bob.open('alice');
  await expect(bob.message('message 70')).toBeVisible();
  await expect(bob.messages()).toHaveCount(50);
  await expect(bob.message('message 1')).toHaveCount(0);

  const list = bob.id('messages');
  await expect
    .poll(async () => {
      await list.evaluate((el) => el.scrollTo(0, 0));
      return bob.messages().count();
    })
    .toBe(70);
  expect(await bob.seqs()).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
  await expect(bob.id('history-status')).toHaveText('The beginning of the conversation');
  // The view stayed where the reader was, not at the new top.
  await expect(bob.message('message 1')).toBeAttached();
  await bob.shot('history');
});

test('delete for everyone', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await alice.send('keep this');
  await alice.send('oops, wrong chat');
  await bob.open('alice');
  await expect(bob.message('oops, wrong chat')).toBeVisible();

  const oops = alice.message('oops, wrong chat');
  await expect(oops).toHaveAttribute('data-seq', '2');
  await oops.hover();
  await oops.getByTestId('delete-message').click();
  await oops.getByTestId('confirm-delete').click();

  for (const u of [alice, bob]) {
    const gone = u.page.locator('[data-testid="message"][data-seq="2"]');
    await expect(gone).toHaveAttribute('data-deleted', 'true');
    await expect(gone.getByTestId('message-body')).toHaveText('This message was deleted');
    await expect(u.message('keep this')).toHaveAttribute('data-deleted', 'false');
  }
  await expect(bob.conversation('alice').getByTestId('last-message')).toHaveText(
    'This message was deleted',
  );
  await bob.shot('deleted');
});

test('edit a message and answer one (v1.1)', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await alice.send('see you at 5');
  await bob.open('alice');
  await expect(bob.message('see you at 5')).toBeVisible();

  // Alice edits her message: both see the new body, marked edited.
  const mine = alice.message('see you at 5');
  await expect(mine).toHaveAttribute('data-seq', '1');
  await mine.hover();
  await mine.getByTestId('edit-message').click();
  await mine.getByTestId('edit-input').fill('see you at 6');
  await mine.getByTestId('save-edit').click();
  for (const u of [alice, bob]) {
    const m = u.page.locator('[data-testid="message"][data-seq="1"]');
    await expect(m.getByTestId('message-body')).toHaveText('see you at 6');
    await expect(m.getByTestId('edited')).toBeVisible();
  }

  // Bob answers it: the reply quotes it on both sides.
  const theirs = bob.page.locator('[data-testid="message"][data-seq="1"]');
  await theirs.hover();
  await theirs.getByTestId('reply-message').click();
  await expect(bob.id('reply-bar')).toContainText('Replying to alice: see you at 6');
  await bob.send('6 works');
  await expect(bob.id('reply-bar')).toBeHidden();
  for (const u of [alice, bob]) {
    const reply = u.message('6 works');
    await expect(reply).toHaveAttribute('data-seq', '2');
    const quote = reply.getByTestId('reply-quote');
    await expect(quote).toBeVisible();
    await expect(quote).toHaveAttribute('data-reply-seq', '1');
    await expect(quote).toContainText('alice');
    await expect(quote).toContainText('see you at 6');
  }
  // Only my own messages have an edit button.
  await expect(theirs.getByTestId('edit-message')).toHaveCount(0);
  await bob.shot('edit-and-reply');
});

test('react to a message (v1.1)', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await alice.send('we won!');
  await bob.open('alice');
  const theirs = bob.message('we won!');
  await expect(theirs).toBeVisible();
  await theirs.hover();
  await theirs.getByTestId('react-message').click();
  for (const u of [alice, bob]) {
    const chip = u.message('we won!').getByTestId('reaction');
    await expect(chip).toHaveAttribute('data-count', '1');
    await expect(chip).toHaveAttribute('title', 'bob');
  }
  // Alice joins in from the chip, then takes it back.
  const chip = alice.message('we won!').getByTestId('reaction');
  await chip.click();
  await expect(bob.message('we won!').getByTestId('reaction')).toHaveAttribute('data-count', '2');
  await expect(chip).toHaveAttribute('title', 'bob, alice');
  await chip.click();
  await expect(bob.message('we won!').getByTestId('reaction')).toHaveAttribute('data-count', '1');
  await bob.shot('reaction');
});

test('search finds a message and opens its conversation at it', async ({ users }) => {
  const [alice, bob] = await pair(users);
  await alice.send('the quick brown fox');
  await alice.send('nothing here');
  await expect(bob.conversation('alice').getByTestId('last-message')).toHaveText('nothing here');

  const box = bob.page.getByRole('searchbox', { name: 'Search messages' });
  const results = bob.id('search-result');
  const fox = results.filter({ hasText: 'quick brown fox' });
  // A message becomes searchable a moment after it is sent: search again
  // until it shows. The query's case does not matter.
  await box.fill('QUICK');
  await expect(async () => {
    await box.press('Enter');
    await expect(fox).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 10_000 });
  await expect(results).toHaveCount(1);
  await expect(fox.getByTestId('search-snippet')).toContainText('quick brown fox');
  await expect(fox.getByTestId('search-sender')).toHaveText('alice');
  await expect(fox.getByTestId('search-title')).toHaveText('alice');
  await expect(bob.id('conversations')).toBeHidden();
  await bob.shot('search');

  await fox.click();
  await expect(bob.id('chat-title')).toHaveText('alice');
  await expect(bob.message('the quick brown fox')).toHaveClass(/\bfound\b/);
  await expect(bob.message('nothing here')).toBeVisible();

  await box.fill('zebra');
  await box.press('Enter');
  await expect(bob.id('search-status')).toHaveText('No messages found');
  await expect(results).toHaveCount(0);

  // An empty box clears the search without asking the server.
  const asked: string[] = [];
  bob.page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/v1/search') asked.push(r.url());
  });
  await box.fill('');
  await box.press('Enter');
  await expect(bob.id('search-results')).toBeHidden();
  await expect(bob.id('conversations')).toBeVisible();
  expect(asked).toEqual([]);
});

test('a phone-sized viewport goes from the list to a chat and back', async ({ users }) => {
  const bob = await users.open('bob');
  const alice = await users.open('alice', { viewport: PHONE });
  await alice.startDirect('bob');
  // The chat fills the screen; the list is out of the way.
  await expect(alice.id('conversations')).toBeHidden();
  await alice.send('sent from a phone');
  await expect(bob.conversation('alice')).toBeVisible();
  await bob.open('alice');
  await bob.send('replied from a desktop');
  await expect(alice.message('replied from a desktop')).toBeVisible();
  await expect(alice.message('sent from a phone')).toHaveAttribute('data-state', 'read');
  await alice.shot('phone-chat');

  await alice.id('back').click();
  await expect(alice.id('conversations')).toBeVisible();
  await expect(alice.id('chat')).toBeHidden();
  await expect(alice.conversation('bob').getByTestId('last-message')).toHaveText(
    'replied from a desktop',
  );
  await alice.shot('phone-list');

  await alice.conversation('bob').click();
  await expect(alice.id('chat')).toBeVisible();
  await expect(alice.id('conversations')).toBeHidden();
  const worst = await lowestContrast(alice.page);
  expect(worst.ratio, `contrast of ${worst.where}`).toBeGreaterThanOrEqual(4.5);
  // Nothing is wider than the screen.
  const overflow = await alice.page.evaluate(() => document.documentElement.scrollWidth);
  expect(overflow).toBeLessThanOrEqual(PHONE.width);
});

test('two people chatting, for the README', async ({ users }) => {
  const size = { width: 800, height: 520 };
  const alice = await users.open('alice', { viewport: size });
  const bob = await users.open('bob', { viewport: size });
  await alice.startGroup('Weekend trip', ['bob', 'carol']);
  await alice.send('Who is driving on Saturday?');
  await alice.startDirect('bob');
  await alice.send('Hi Bob! Are we still on for lunch?');
  await bob.open('alice');
  await bob.send('Yes! 12:30 at the usual place?');
  await alice.send('Perfect, see you there');
  await expect(alice.message('Perfect, see you there')).toHaveAttribute('data-state', 'read');
  await bob.id('composer-input').pressSequentially('Great', { delay: 30 });
  await expect(alice.id('typing')).toBeVisible();

  for (const u of [alice, bob]) {
    const worst = await lowestContrast(u.page);
    expect(worst.ratio, `contrast of ${worst.where}`).toBeGreaterThanOrEqual(4.5);
  }

  const [left, right] = await Promise.all([alice.page.screenshot(), bob.page.screenshot()]);
  const page = await alice.context.newPage();
  await page.setViewportSize({ width: size.width * 2 + 12, height: size.height });
  const img = (b: Buffer) => `<img src="data:image/png;base64,${b.toString('base64')}">`;
  await page.setContent(
    `<body style="margin:0;display:flex;gap:12px;background:#9aa6ac">${img(left)}${img(right)}</body>`,
  );
  const shot = await page.screenshot();
  await page.close();
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { SHOTS } = await import('./fixtures');
  writeFileSync(join(SHOTS, 'readme.png'), shot);
  // The README's picture changes with the clock, so it is only rewritten
  // when asked for: UPDATE_SCREENSHOT=1 web/test.sh.
  if (process.env.UPDATE_SCREENSHOT === '1') {
    writeFileSync(new URL('../../docs/screenshot.png', import.meta.url), shot);
  }
  expect(shot.length).toBeLessThan(150_000);
});
