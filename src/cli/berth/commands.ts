// Every `berth` command, in the order `berth --help` lists them.
import type { Command } from './command.ts';
import { pullCommand } from './pull.ts';
import { pushCommand } from './push.ts';
import { loginCommand, logoutCommand } from './login.ts';
import { bundleCreateCommand, bundleRmCommand } from './bundle.ts';
import { saveCommand } from './save.ts';
import { loadCommand } from './load.ts';
import { importCommand } from './import.ts';
import { exportCommand } from './export.ts';
import { imagesCommand } from './images.ts';
import { rmiCommand } from './rmi.ts';
import { tagCommand } from './tag.ts';
import { containerInspectCommand, imageInspectCommand, inspectCommand } from './inspect.ts';
import {
  attachCommand, containerPruneCommand, createCommand, execCommand, infoCommand, killCommand, logsCommand, pauseCommand, psCommand, renameCommand,
  restartCommand, rmCommand, runCommand, startCommand, stopCommand, topCommand, unpauseCommand, versionCommand, waitCommand,
} from './containers.ts';
import { historyCommand } from './history.ts';
import { imagePruneCommand } from './prune.ts';
import { explainCommand } from './explain.ts';
import { cpCommand } from './cp.ts';
import { diffCommand } from './diff.ts';
import { commitCommand } from './commit.ts';
import { updateCommand } from './update.ts';
import { volumeCreateCommand, volumeInspectCommand, volumeLsCommand, volumePruneCommand, volumeRmCommand } from './volumes.ts';
import { eventsCommand } from './events.ts';
import { NETWORK_COMMANDS } from './network.ts';
import { statsCommand } from './stats.ts';
import { portCommand } from './port.ts';
import { systemDfCommand, systemPruneCommand } from './system.ts';

export const COMMANDS: readonly Command[] = [
  runCommand,
  createCommand,
  startCommand,
  stopCommand,
  restartCommand,
  killCommand,
  rmCommand,
  psCommand,
  logsCommand,
  waitCommand,
  attachCommand,
  execCommand,
  topCommand,
  statsCommand,
  portCommand,
  renameCommand,
  updateCommand,
  cpCommand,
  diffCommand,
  commitCommand,
  pauseCommand,
  unpauseCommand,
  containerPruneCommand,
  containerInspectCommand,
  volumeCreateCommand,
  volumeLsCommand,
  volumeInspectCommand,
  volumeRmCommand,
  volumePruneCommand,
  ...NETWORK_COMMANDS,
  eventsCommand,
  systemDfCommand,
  systemPruneCommand,
  versionCommand,
  infoCommand,
  pullCommand,
  pushCommand,
  loginCommand,
  logoutCommand,
  bundleCreateCommand,
  bundleRmCommand,
  saveCommand,
  loadCommand,
  importCommand,
  exportCommand,
  imagesCommand,
  rmiCommand,
  tagCommand,
  imageInspectCommand,
  inspectCommand,
  historyCommand,
  imagePruneCommand,
  explainCommand,
];
