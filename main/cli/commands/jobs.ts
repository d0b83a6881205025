import { resolve } from 'node:path';
import type { JobSummary } from '../../contract/jobs.js';
import { createEngine } from '../../engine/create.js';
import { JobRunner } from '../../jobs/runner.js';
import { RunnerLockedError } from '../../jobs/lock.js';
import { defaultWorkspaceDir } from '../../library/workspace.js';
import { fmtSeconds, ProgressBar } from '../progress.js';
import { helpOption, jsonOption, parse, UsageError, workspaceOption, type Command } from '../command.js';
import { SUMMARIES } from '../summaries.js';

const USAGE = [
  'pix2rep jobs list [--all] [--json]            queued, running, paused and interrupted jobs (--all: finished too)',
  'pix2rep jobs pause|resume|cancel ID [--json]  control a job (a running one checkpoints before it pauses)',
  'pix2rep jobs priority ID N                     change a job\'s priority (higher starts first)',
  'pix2rep jobs wait ID [--json]                  follow a job until it ends; exit code: 0 done, 1 failed,',
  '                                                3 cancelled, 4 paused, 5 interrupted',
  'pix2rep jobs log ID                            print the job\'s log',
  'pix2rep jobs runner [--exit-when-idle]         run the workspace\'s jobs in the foreground (one runner per',
  '                                                workspace; Ctrl-C checkpoints running jobs and stops)',
  'Every form accepts --workspace DIR.',
].join('\n');

export const EXIT_BY_STATUS: Record<string, number> = { done: 0, failed: 1, cancelled: 3, paused: 4, interrupted: 5 };

function line(j: JobSummary): string {
  const steps = j.totalSteps ? `${j.step}/${j.totalSteps}` : String(j.step);
  const ck = j.checkpointStep !== null ? ` ckpt ${j.checkpointStep}` : '';
  const note = j.error ?? j.waiting ?? (j.requested ? `${j.requested} requested` : '');
  return `${j.id}  ${j.status.padEnd(11)}  ${j.kind.padEnd(8)}  p${j.priority}  step ${steps}${ck}${note ? `  ${note}` : ''}`;
}

export const jobsCommand: Command = {
  name: 'jobs',
  summary: SUMMARIES.jobs,
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(
      argv,
      { ...workspaceOption, ...jsonOption, ...helpOption, all: { type: 'boolean', default: false }, 'exit-when-idle': { type: 'boolean', default: false } },
      true,
    );
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const [sub, id, extra] = positionals;
    const workspace = resolve(values.workspace ?? defaultWorkspaceDir());
    const out = (text: string) => process.stdout.write(text + '\n');
    const needId = () => {
      if (!id) throw new UsageError(`jobs ${sub} needs a job id`);
      return id;
    };

    if (sub === 'runner') return runForeground(workspace, values['exit-when-idle']);

    const engine = createEngine({ workspace });
    switch (sub) {
      case 'list':
      case undefined: {
        const { jobs } = await engine.call('jobs.list', values.all ? {} : { status: ['queued', 'running', 'paused', 'interrupted'] });
        if (values.json) out(JSON.stringify({ workspace, jobs }, null, 2));
        else out(jobs.length ? jobs.map(line).join('\n') : `No ${values.all ? '' : 'pending '}jobs in ${workspace}.`);
        return 0;
      }
      case 'pause':
      case 'resume':
      case 'cancel': {
        const job = await engine.call(`jobs.${sub}`, { id: needId() });
        if (values.json) out(JSON.stringify(job));
        else out(line(job));
        return 0;
      }
      case 'priority': {
        const n = Number(extra);
        if (!Number.isInteger(n)) throw new UsageError(`jobs priority ID N: N must be an integer, got "${extra ?? ''}"`);
        out(line(await engine.call('jobs.setPriority', { id: needId(), priority: n })));
        return 0;
      }
      case 'log': {
        const { text } = await engine.call('jobs.log', { id: needId(), maxBytes: 1_000_000 });
        process.stdout.write(text);
        return 0;
      }
      case 'wait':
        return waitFor(engine, needId(), values.json);
      default:
        throw new UsageError(`unknown jobs sub-command "${sub}"`);
    }
  },
};

async function waitFor(engine: ReturnType<typeof createEngine>, id: string, json: boolean): Promise<number> {
  const bar = json ? null : new ProgressBar(`job ${id}`);
  let lastStep = -1;
  let lastStatus = '';
  for (;;) {
    const j = await engine.call('jobs.get', { id });
    if (json && (j.step !== lastStep || j.status !== lastStatus)) {
      process.stdout.write(JSON.stringify({ event: 'job', id: j.id, status: j.status, step: j.step, totalSteps: j.totalSteps, checkpointStep: j.checkpointStep, waiting: j.waiting }) + '\n');
    } else if (bar && j.status === 'running') {
      const points = j.step !== lastStep ? (await engine.call('jobs.progress', { id, afterStep: Math.max(-1, j.step - 1) })).points : [];
      const p = points.filter((x) => x.kind === 'step').pop();
      const rate = p?.slicesPerSecond ? ` ${p.slicesPerSecond.toFixed(2)} slices/s` : '';
      bar.update(j.step, j.totalSteps, `${p?.smoothedLoss != null ? `loss ${p.smoothedLoss.toFixed(4)}` : ''}${rate}`);
    } else if (!json && j.status !== lastStatus) {
      process.stderr.write(`job ${id}: ${j.status}${j.waiting ? ` (${j.waiting})` : ''}\n`);
    }
    lastStep = j.step;
    lastStatus = j.status;
    const code = EXIT_BY_STATUS[j.status];
    if (code !== undefined) {
      bar?.done();
      const why = j.error ? `: ${j.error}` : '';
      if (json) process.stdout.write(JSON.stringify({ event: 'end', id, status: j.status, step: j.step, error: j.error, result: j.result }) + '\n');
      else process.stdout.write(`job ${id} ${j.status} at step ${j.step}${why}\n`);
      return code;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function runForeground(workspace: string, exitWhenIdle: boolean): Promise<number> {
  const started = Date.now();
  const say = (text: string) => process.stdout.write(`${new Date().toISOString()} ${text}\n`);
  const runner = new JobRunner({
    workspace,
    exitWhenIdle,
    onEvent: (e) => {
      if (e.event === 'job.state') {
        const j = e.data.job;
        say(`${j.id} ${j.status}${j.error ? `: ${j.error}` : ''}${j.waiting ? ` (${j.waiting})` : ''}`);
      } else if (e.event === 'job.progress' && e.data.kind === 'validation') {
        say(`${e.data.jobId} step ${e.data.step}: validation loss ${e.data.validationLoss?.toFixed(4)}`);
      }
    },
  });
  try {
    await runner.start();
  } catch (err) {
    if (err instanceof RunnerLockedError) {
      process.stderr.write(`pix2rep jobs runner: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  say(`job runner for ${workspace} (pid ${process.pid})`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    say(`${sig}: checkpointing running jobs and stopping`);
    void runner.stop();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // Keep the event loop alive: the runner's own timers are unref'd so short-lived hosts can exit.
  const keepAlive = setInterval(() => undefined, 60_000);
  await runner.idle;
  clearInterval(keepAlive);
  if (!stopping) await runner.stop();
  say(`job runner stopped after ${fmtSeconds((Date.now() - started) / 1000)}`);
  return 0;
}
