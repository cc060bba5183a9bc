// Every `berth` command, in the order `berth --help` lists them.
import type { Command } from './command.ts';
import { pullCommand } from './pull.ts';
import { bundleCreateCommand, bundleRmCommand } from './bundle.ts';

export const COMMANDS: readonly Command[] = [
  pullCommand,
  bundleCreateCommand,
  bundleRmCommand,
];
