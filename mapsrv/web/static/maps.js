// A person's maps (/maps): rename in place, duplicate, delete after asking. Every title is set
// as text, never as HTML (a title is an agent's or a person's untrusted text).

const status = document.getElementById('maps-status');
const dialog = document.getElementById('confirm-delete');

function say(text) {
  status.textContent = text;
}

async function post(card, action, body) {
  const response = await fetch(`/maps/${encodeURIComponent(card.dataset.id)}/${action}`, {
    method: 'POST',
    headers: {'content-type': 'application/json'},
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error((answer.error && answer.error.message) || `${action} failed (${response.status})`);
  }
  return answer;
}

function titleOf(card) {
  return card.dataset.title || 'Untitled map';
}

function rename(card) {
  if (card.querySelector('.map-card-rename')) return; // already open
  const heading = card.querySelector('.map-card-title');
  const form = document.createElement('form');
  form.className = 'map-card-rename';
  const input = document.createElement('input');
  input.name = 'title';
  input.maxLength = 200;
  input.value = card.dataset.title;
  input.setAttribute('aria-label', 'New title');
  const save = document.createElement('button');
  save.className = 'btn btn-primary';
  save.type = 'submit';
  save.textContent = 'Save';
  form.append(input, save);
  heading.hidden = true;
  heading.after(form);
  input.focus();
  input.select();
  const done = () => {
    form.remove();
    heading.hidden = false;
  };
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') done();
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const answer = await post(card, 'rename', {title: input.value});
      card.dataset.title = answer.title;
      heading.querySelector('a').textContent = answer.title || 'Untitled map';
      say(`Renamed to “${answer.title || 'Untitled map'}”.`);
      done();
    } catch (error) {
      say(error.message);
    }
  });
}

async function duplicate(card) {
  try {
    const answer = await post(card, 'duplicate');
    say(`Made “${answer.title}”.`);
    window.location.reload();
  } catch (error) {
    say(error.message);
  }
}

function remove(card) {
  document.getElementById('confirm-name').textContent = titleOf(card);
  dialog.returnValue = '';
  dialog.addEventListener('close', async () => {
    if (dialog.returnValue !== 'delete') {
      say('Nothing was deleted.');
      return;
    }
    try {
      await post(card, 'delete');
      card.remove();
      say(`Deleted “${titleOf(card)}”.`);
    } catch (error) {
      say(error.message);
    }
  }, {once: true});
  dialog.showModal();
}

const actions = {rename, duplicate, delete: remove};

document.getElementById('maps')?.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-action]');
  if (!button) return;
  actions[button.dataset.action](button.closest('.map-card'));
});

document.body.dataset.ready = 'true';
