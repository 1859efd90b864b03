// The demo course's lesson logic: it only calls the tracker's public API, as an author's
// page would. ck() may still be the queue stub when this runs; calls are kept either way.
(() => {
  'use strict';
  const page = document.querySelector('[data-course]');
  if (!page) return;
  const course = page.dataset.course;
  const lesson = page.dataset.lesson;

  ck('courseStarted', course);
  if (lesson) ck('lessonStarted', lesson);
  ck('register', 'demo.hint.shown', {
    description: 'The learner asked for the hint of a check',
    fields: { check: 'id of the check', lesson: 'id of the lesson' },
    version: 1,
  });

  // Checks: a wrong answer may be retried, but only the first answer counts (for the
  // quiz score here, and for item analysis on the course page, which reads first
  // attempts). A check with data-maxscore gives partial credit from each choice's
  // data-score. When every check of a quiz has a first answer, the quiz is completed.
  const quizzes = {};
  for (const check of page.querySelectorAll('.check')) {
    const quiz = check.dataset.quiz;
    quizzes[quiz] = quizzes[quiz] || { total: 0, answered: 0, correct: 0 };
    quizzes[quiz].total++;
    check.addEventListener('click', (e) => {
      const button = e.target.closest('button');
      if (!button) return;
      if (button.dataset.hint) {
        ck('emit', 'demo.hint.shown', { check: check.dataset.check, lesson });
        const feedback = check.querySelector('.feedback');
        feedback.textContent = button.dataset.hint;
        feedback.hidden = false;
        return;
      }
      if (!button.dataset.choice || check.dataset.done) return;
      const correct = button.dataset.choice === check.dataset.answer;
      const max = check.dataset.maxscore ? +check.dataset.maxscore : undefined;
      const score = max ? +(button.dataset.score || 0) : undefined;
      ck('quizAnswered', check.dataset.check, correct, button.dataset.choice, score, max);
      const first = !check.dataset.tried;
      check.dataset.tried = '1';
      const feedback = check.querySelector('.feedback');
      feedback.textContent = correct ? 'Correct.' : 'Not quite: have another look at the ' +
        'text and try again (only your first answer counts).';
      feedback.hidden = false;
      check.classList.toggle('right', correct);
      check.classList.toggle('wrong', !correct);
      button.disabled = true;
      if (correct) {
        check.dataset.done = '1';
        for (const b of check.querySelectorAll('button[data-choice]')) b.disabled = true;
      }
      if (!first) return;
      const q = quizzes[quiz];
      q.answered++;
      if (correct) q.correct++;
      if (q.answered === q.total) ck('quizCompleted', quiz, q.correct, q.total);
    });
  }

  // Branching block: the choice is an interaction on the block, then its branch shows.
  for (const branch of page.querySelectorAll('.branch')) {
    branch.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-path]');
      if (!button) return;
      ck('interaction', 'branch', branch.dataset.block, { path: button.dataset.path });
      for (const part of branch.querySelectorAll('[data-path-content]')) {
        part.hidden = part.dataset.pathContent !== button.dataset.path;
      }
    });
  }

  const next = page.querySelector('[data-nav="next"]');
  if (next) next.addEventListener('click', () => ck('lessonCompleted', lesson));
  const finish = page.querySelector('[data-complete-course]');
  if (finish) {
    finish.addEventListener('click', () => {
      ck('lessonCompleted', lesson);
      ck('courseCompleted', course);
      finish.disabled = true;
      page.querySelector('[data-course-done]').hidden = false;
    });
  }

  // What the tracker has done on this page, so a first-time user sees data flow.
  const status = document.getElementById('demo-status');
  if (status) {
    const tick = () => {
      if (!window.ck.version) return;
      const s = ck('state');
      status.textContent = `${s.made} events made, ${s.accepted} stored` +
        (s.duplicates ? ` (+${s.duplicates} resent, already stored)` : '') +
        `, ${s.queued} batch(es) waiting · ${s.transport}` +
        (s.connected ? ' connected' : '') + (s.stopped ? ` · refused (${s.stopped})` : '');
    };
    setInterval(tick, 500);
    tick();
  }
})();
