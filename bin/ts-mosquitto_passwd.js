#!/usr/bin/env node
import { main } from '../dist/cli/passwd.js';
main(process.argv);
