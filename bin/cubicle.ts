#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { createApp } from '../lib/app';
import { configPathFrom, synthOrExit } from '../lib/config/cli';
import { loadConfigFile } from '../lib/config/load';

const app = new App();
synthOrExit(app, () => createApp(app, loadConfigFile(configPathFrom(app))));
