/** Removes the run's exchanges and queues (AMQP_PREFIX = goticket_bench_<ts>) from the shared RabbitMQ. */
import { connect } from 'amqplib';
import { deleteTopology, topologyNames } from '../../app/src/adapters/rabbitmq/topology';

export async function deleteRunTopology(url: string, prefix: string): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createChannel();
    await deleteTopology(channel, topologyNames(prefix));
    await channel.close();
  } finally {
    await connection.close();
  }
}
