#!/bin/sh
# The workbench container's entrypoint: it runs the command given (tini and the workbench daemon) from an
# EMPTY environment plus a short allow-list, so no process of the workbench ever holds what ECS injects
# into every container of a task: the task role's credentials URI (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)
# and the metadata URIs (ECS_CONTAINER_METADATA_URI_V4, ...). `exec` replaces this shell, so even PID 1's
# /proc/1/environ shows only the allow-list; the task definition keeps initProcessEnabled off for this
# container for the same reason (an init process started by ECS would keep the original environment).
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
#
# stdout and stderr go to /dev/null first: what the CLI prints reaches the supervisor over the socket and
# is redacted there; nothing of the workbench reaches the container log (CT.ECS.PR.5 still wants the log
# configuration to exist).
exec >/dev/null 2>&1
exec /usr/bin/env -i \
  PATH="${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}" \
  HOME=/tmp/cubicle/home \
  LANG=C.UTF-8 \
  NODE_ENV=production \
  NPM_CONFIG_UPDATE_NOTIFIER=false \
  DISABLE_AUTOUPDATER=1 \
  ${TZ:+"TZ=$TZ"} \
  ${CUBICLE_EXCHANGE_DIR:+"CUBICLE_EXCHANGE_DIR=$CUBICLE_EXCHANGE_DIR"} \
  ${CUBICLE_RUN_DIR:+"CUBICLE_RUN_DIR=$CUBICLE_RUN_DIR"} \
  ${CUBICLE_HOME_DIR:+"CUBICLE_HOME_DIR=$CUBICLE_HOME_DIR"} \
  ${CUBICLE_SKILLS_SOURCE:+"CUBICLE_SKILLS_SOURCE=$CUBICLE_SKILLS_SOURCE"} \
  "$@"
