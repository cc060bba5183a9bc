// Every `berth` command, in the order `berth --help` lists them.
import type { Command } from './command.ts';
import { pullCommand } from './pull.ts';
import { pushCommand } from './push.ts';
import { loginCommand, logoutCommand } from './login.ts';
import { bundleCreateCommand, bundleRmCommand } from './bundle.ts';

export const COMMANDS: readonly Command[] = [
  pullCommand,
  pushCommand,
  loginCommand,
  logoutCommand,
  bundleCreateCommand,
  bundleRmCommand,
];
