#!/usr/bin/env node
import { main } from '../dist/cli/pub.js';
main(process.argv);
