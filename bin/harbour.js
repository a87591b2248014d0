#!/usr/bin/env node
// The `harbour` command. Runs the compiled CLI (npm install builds it).
import { cliMain } from '../dist/server/cli.js';

cliMain();
