#!/usr/bin/env node
import { main } from '../dist/cli/sub.js';
main(process.argv);
