#!/usr/bin/env node
import { main } from '../dist/cli/rr.js';
main(process.argv);
