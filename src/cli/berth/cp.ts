/**
 * berth cp / container cp: files between a container and the host through the archive
 * endpoints (HEAD, GET, PUT /containers/{id}/archive), with docker's path rules (cp-paths.ts).
 *
 * The host side never trusts the archive: what the daemon sends is extracted with the engine's
 * in-root extraction (fs/extract.ts), rooted at the directory written into, so an entry reached
 * through a symlink (`etc -> /etc`, then `etc/passwd`) lands inside that directory and never in
 * the host's /etc. What is sent is read from the host the same way (fs/tartree.ts over an
 * in-root view of the source's parent): a symlink is sent as a symlink unless -L.
 */
import * as fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { ExtractError, extractTree } from '../../engine/containers/fs/extract.ts';
import { InRootError, InRootFs } from '../../engine/containers/fs/inroot.ts';
import { TreeTar } from '../../engine/containers/fs/tartree.ts';
import { TarError, TarWriter } from '../../image/index.ts';
import { bool } from '../args.ts';
import { DaemonError, readBody, type Client } from './client.ts';
import { PlainFailure, wantArgs } from './command.ts';
import type { Command, CommandContext } from './command.ts';
import {
  copyInfoDestinationPath, getRebaseName, goFsError, prepareArchiveCopy, rebase, resolveLocalPath, splitCpArg, splitPathDirEntry, validateOutputPath, type CopyInfo,
} from './cp-paths.ts';

const enc = encodeURIComponent;
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
/** Go's os.ModeType without ModeDir and ModeSymlink: devices, pipes, sockets, irregular files */
const MODE_SPECIAL = 2 ** 26 + 2 ** 25 + 2 ** 24 + 2 ** 21 + 2 ** 19;

interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** docker's client: a 404 on `container:path` is `Error: No such container:path: C:P` (objectNotFoundError). */
function notFound(container: string, path: string): PlainFailure {
  return new PlainFailure(`Error: No such container:path: ${container}:${path}`);
}

async function answer(res: IncomingMessage, container: string, path: string): Promise<IncomingMessage> {
  const status = res.statusCode ?? 0;
  if (status < 400) return res;
  const body = await readBody(res);
  if (status === 404) throw notFound(container, path);
  let message = body.toString('utf8').trim();
  try {
    message = (JSON.parse(message) as { message?: string }).message ?? message;
  } catch {
    // not JSON: the text as it came
  }
  throw new DaemonError(status, message === '' ? `HTTP ${status}` : message);
}

function pathStat(res: IncomingMessage): PathStat {
  const h = res.headers['x-docker-container-path-stat'];
  if (typeof h !== 'string') throw new PlainFailure('the daemon sent no X-Docker-Container-Path-Stat header');
  try {
    return JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as PathStat;
  } catch {
    throw new PlainFailure('the daemon sent an unreadable X-Docker-Container-Path-Stat header');
  }
}

async function statPath(client: Client, container: string, path: string): Promise<PathStat> {
  const res = await answer(await client.raw('HEAD', `/containers/${enc(container)}/archive`, { query: { path } }), container, path);
  res.resume();
  return pathStat(res);
}

async function fromContainer(ctx: CommandContext, container: string, srcPath0: string, dst: string, followLink: boolean): Promise<void> {
  const dstPath = dst === '-' ? dst : resolveLocalPath(dst);
  validateOutputPath(dstPath);
  const client = await ctx.client();
  let srcPath = srcPath0;
  let rebaseName: string | undefined;
  if (followLink) {
    const st = await statPath(client, container, srcPath).catch(() => undefined);
    if (st && st.mode & MODE_SYMLINK) {
      let target = st.linkTarget;
      if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(srcPath).dir, target);
      ({ path: srcPath, rebaseName } = getRebaseName(srcPath, target));
    }
  }
  const res = await answer(await client.raw('GET', `/containers/${enc(container)}/archive`, { query: { path: srcPath } }), container, srcPath);
  const stat = pathStat(res);
  if (dstPath === '-') {
    for await (const chunk of res) {
      if (!process.stdout.write(chunk as Buffer)) await new Promise((r) => process.stdout.once('drain', r));
    }
    if (!res.complete) throw new PlainFailure('cp: the daemon ended the archive early (see its log)');
    return;
  }
  const src: CopyInfo = { path: srcPath, exists: true, isDir: (stat.mode & MODE_DIR) !== 0, rebaseName };
  const { dstDir, rename } = prepareArchiveCopy(src, copyInfoDestinationPath(dstPath));
  await extractOnHost(dstDir, res, rename);
}

/** Extracts the daemon's archive into the host directory `dir`, never outside it. */
async function extractOnHost(dir: string, body: Readable, rename: { from: string; to: string } | undefined): Promise<void> {
  let fsv: InRootFs;
  try {
    fsv = new InRootFs(dir);
  } catch (e) {
    throw goFsError('open', dir, e);
  }
  try {
    await extractTree(fsv, [fsv.rootNode()], body, {
      noOverwriteDirNonDir: true,
      // docker's CLI extracts with NoLchown: what it makes is the caller's
      owner: () => undefined,
      ...(rename && { rename: rebase(rename.from, rename.to) }),
      what: 'berth cp',
    });
  } catch (e) {
    if (e instanceof TarError || e instanceof ExtractError) throw new PlainFailure(`cp: extracting into ${dir}: ${e.message}`);
    // in-root paths: where an entry led (through the archive's own symlinks, resolved inside dir)
    if (e instanceof InRootError) throw new PlainFailure(`cp: extracting into ${dir}: ${posix.join(dir, e.path)}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && 'path' in (e as object)) throw new PlainFailure((e as Error).message);
    throw e;
  } finally {
    fsv.close();
  }
}

/**
 * archive.CopyInfoSourcePath + TarResource on the host: the source's parent resolved (all of it
 * with -L), the source itself read through an in-root view of that parent.
 */
function copyInfoSourcePath(path: string, followLink: boolean): CopyInfo {
  let resolved: string;
  let rebaseName: string | undefined;
  try {
    if (followLink) {
      ({ path: resolved, rebaseName } = getRebaseName(path, fs.realpathSync(path)));
    } else {
      const { dir, base } = splitPathDirEntry(path);
      resolved = `${fs.realpathSync(dir).replace(/\/$/, '')}/${base}`;
    }
  } catch (e) {
    throw goFsError('lstat', path, e);
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(resolved);
  } catch (e) {
    throw goFsError('lstat', resolved, e);
  }
  return { path: resolved, exists: true, isDir: st.isDirectory(), rebaseName };
}

/** The tar of the host's `src`, its top entry named `topName`. */
function hostTar(src: CopyInfo, topName: string): Readable {
  const { dir, base } = splitPathDirEntry(src.path);
  const out = new PassThrough();
  const fsv = new InRootFs(dir);
  const write = async (): Promise<void> => {
    const w = new TarWriter(out);
    const tt = new TreeTar(fsv, w, { topName, childPrefix: '' });
    try {
      if (base === '.' || base === '/') {
        await tt.add(fsv.rootNode(), undefined, '', topName);
      } else {
        const n = fsv.resolve(`/${base}`, { followFinal: false });
        await tt.add(n, fsv.rootNode(), base, topName);
      }
      await w.finish();
    } finally {
      await tt.close();
      fsv.close();
    }
  };
  write().then(() => out.end(), (e: Error) => out.destroy(e));
  return out;
}

async function toContainer(ctx: CommandContext, srcPath0: string, container: string, dstPath: string, followLink: boolean, copyUIDGID: boolean): Promise<void> {
  const srcPath = srcPath0 === '-' ? srcPath0 : resolveLocalPath(srcPath0);
  const client = await ctx.client();
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let st = await statPath(client, container, dstPath).catch(() => undefined);
  if (st && st.mode & MODE_SYMLINK) {
    let target = st.linkTarget;
    if (!target.startsWith('/')) target = posix.join(splitPathDirEntry(dstPath).dir, target);
    dstInfo.path = target;
    st = await statPath(client, container, target).catch(() => undefined);
  }
  if (st && st.mode & MODE_SPECIAL) throw new PlainFailure(`destination "${container}:${dstPath}" must be a directory or a regular file`);
  // a destination that cannot be stat'ed may still be made by the extraction (its parent exists)
  if (st) Object.assign(dstInfo, { exists: true, isDir: (st.mode & MODE_DIR) !== 0 });
  let content: Readable;
  let resolvedDst: string;
  if (srcPath === '-') {
    if (!dstInfo.isDir) throw new PlainFailure(`destination "${container}:${dstPath}" must be a directory`);
    if (process.stdin.isTTY) throw new PlainFailure('cp: requested an archive from stdin, but stdin is a terminal');
    content = process.stdin;
    resolvedDst = dstInfo.path;
  } else {
    const src = copyInfoSourcePath(srcPath, followLink);
    const { dstDir, rename } = prepareArchiveCopy(src, dstInfo);
    const base = splitPathDirEntry(src.path).base;
    content = hostTar(src, rename ? rename.to : src.rebaseName ?? (base === '/' ? '.' : base));
    resolvedDst = dstDir;
  }
  const sent = new Promise<void>((resolve, reject) => content.once('error', reject).once('end', resolve));
  sent.catch(() => undefined);
  const res = await answer(await client.raw('PUT', `/containers/${enc(container)}/archive`, {
    query: { path: resolvedDst, noOverwriteDirNonDir: true, copyUIDGID },
    stream: content,
  }), container, resolvedDst);
  await readBody(res);
  if (content !== process.stdin) {
    try {
      await sent;
    } catch (e) {
      throw new PlainFailure(`cp: reading ${srcPath}: ${(e as Error).message}`);
    }
  }
}

export const cpCommand: Command = {
  name: 'container cp',
  aliases: ['cp'],
  usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  summary: 'Copy files/folders between a container and the local filesystem',
  flags: [{ names: ['archive', 'a'], kind: 'bool' }, { names: ['follow-link', 'L'], kind: 'bool' }],
  flagHelp: '  -a, --archive       Archive mode (copy all uid/gid information)\n  -L, --follow-link   Always follow symbol link in SRC_PATH',
  failureStatus: 1,
  async run(p, ctx) {
    wantArgs(p.rest, 2, 2);
    const src = splitCpArg(p.rest[0]!);
    const dst = splitCpArg(p.rest[1]!);
    if (src.container !== '' && dst.container !== '') throw new PlainFailure('copying between containers is not supported');
    if (src.container === '' && dst.container === '') throw new PlainFailure('must specify at least one container source');
    if (src.container !== '') await fromContainer(ctx, src.container, src.path, dst.path, bool(p, 'follow-link'));
    else await toContainer(ctx, src.path, dst.container, dst.path, bool(p, 'follow-link'), bool(p, 'archive'));
    return 0;
  },
};
